# Port model (circuitpython): `microcontroller`, what CircuitPython has where MicroPython has `machine` (which the
# firmware lacks: _firmware.py HIDDEN).  shared-bindings/microcontroller/__init__.c: `cpu` (a Processor) and
# `reset()`; only what board identity and resets need is here.


class Processor:
    # shared-bindings/microcontroller/Processor.c: `uid` is a property, a fresh bytearray of
    # COMMON_HAL_MCU_PROCESSOR_UID_LENGTH (6 on ports/espressif, common-hal/microcontroller/Processor.h) built from
    # the efuse MAC words with their nibbles swapped (common-hal/microcontroller/Processor.c); a fixed one here.
    @property
    def uid(self):
        return bytearray(b"\x42\xa0\x4c\x00\x00\x30")


cpu = Processor()


def reset():
    # mcu_reset(): a hard reset of the chip, as machine.reset() is on the MicroPython targets (the virtual board's
    # `machine` stays loaded for its models: its reset is the supervisor's power cycle).
    import machine

    machine.reset()

# The virtual board's `/` without floats (models/_common; vboard.py _firmware_source compiles a user's `a / b` as
# `a @__vb_div__@ b` and `x /= e` as `x @=__vb_div__@(e)`, with __vb_div__ a TrueDivide in builtins): int by int
# is the firmware's TypeError when it runs, anything else divides as written (a class's own __truediv__).


def _divide(a, b):
    if type(a) in (int, bool) and type(b) in (int, bool):
        # py/runtime.c mp_binary_op without MICROPY_PY_BUILTINS_FLOAT: no TRUE_DIVIDE case for ints, so
        # unsupported_op, under TERSE error reporting (ports/cc3200/mpconfigport.h) only this text
        raise TypeError("unsupported type for operator")
    return a / b


class _Dividend:
    def __init__(self, a):
        self.a = a

    def __matmul__(self, b):
        return _divide(self.a, b)


class _Divisor:
    def __init__(self, b):
        self.b = b

    def __rmatmul__(self, a):  # (also for `x @= d`: int has no in-place matmul)
        return _divide(a, self.b)


class TrueDivide:
    # NO_FLOAT: `a / b` runs as (a @ __vb_div__) @ b: __rmatmul__ takes a, the _Dividend divides it by b;
    # `x /= e` as x @= (__vb_div__ @ (e)): __matmul__ takes e, the _Divisor divides x by it.
    def __rmatmul__(self, a):
        return _Dividend(a)

    def __matmul__(self, b):
        return _Divisor(b)

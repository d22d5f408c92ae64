"""Board farm: boards exported over the network (ser2net, RFC2217) and shared through labgrid places."""

"""cnnc.nn.functional: the pool family's functions. Filled in by its op family."""
__all__ = []

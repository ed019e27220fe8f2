"""cnnc.nn.functional: the resample family's functions (torch.nn.functional signatures)."""
__all__ = []

"""cnnc.nn.functional: the pool family's functions (torch.nn.functional signatures)."""
__all__ = []

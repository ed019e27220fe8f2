"""cnnc.nn.functional: the norm family's functions (torch.nn.functional signatures)."""
__all__ = []

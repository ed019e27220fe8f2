"""cnnc.nn.functional: the conv family's functions (torch.nn.functional signatures)."""
__all__ = []

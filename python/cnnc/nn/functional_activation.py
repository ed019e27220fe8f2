"""cnnc.nn.functional: the activation family's functions (torch.nn.functional signatures)."""
__all__ = []

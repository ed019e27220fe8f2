"""cnnc.nn upsampling modules (torch.nn's constructor signatures)."""
__all__ = []

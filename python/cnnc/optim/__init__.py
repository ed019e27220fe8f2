"""cnnc.optim: torch.optim's optimizers and (cnnc.optim.lr_scheduler) schedulers,
over the C library's include/cnnc/optim.h."""
from .optimizer import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]

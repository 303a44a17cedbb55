"""Training of the variable-rate model: data, objective and the resumable loop."""

from s2lic.codec.objective import RateDistortion
from s2lic.train.trainer import TrainConfig, TrainResult, train

__all__ = ["RateDistortion", "TrainConfig", "TrainResult", "train"]

"""A real small run trained on real data and saved through RunStore, for tests of run-based views."""

from __future__ import annotations

from pathlib import Path

from dashboard.data.dataset import Dataset
from dashboard.lab.runs import Run, RunStore
from dashboard.lab.training import Trainer, TrainParams, evaluate


def train_and_save(root: Path, train: Dataset, test: Dataset, params: TrainParams) -> Run:
    """Train ``params`` on ``train``, evaluate once on ``test``, save under ``root``; the Run."""
    trainer = Trainer(params, train)
    list(trainer.run())
    model = trainer.final_model()
    metrics = evaluate(model, test)
    return RunStore(root).save(
        model=model, params=trainer.params, history=trainer.history, metrics=metrics,
        dataset=trainer.dataset_name, dataset_checksum=trainer.dataset_checksum,
        class_names=trainer.class_names, image_shape=trainer.image_shape,
        timing={"train": 1.0, "test": metrics.seconds, "total": 1.0}, kept_epoch=trainer.kept_epoch,
    )

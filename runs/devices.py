"""Where and how a job computes: CPU threads, GPU memory growth, the mixed-precision policy, the
distribution strategy.

    trainer.precision=mixed_bfloat16 trainer.distribute=mirrored trainer.devices=[/gpu:0,/gpu:1]
    trainer.threads=1

Called once at the start of every stage, before a model is built: TensorFlow fixes its devices
at first use, and Keras reads the precision policy when layers are created. With
`distribute=mirrored`, `trainer.batch_size` is the global batch, split evenly over the replicas.
CPUs named in `trainer.devices` beyond the machine's one are made logical devices, so
distribution can be tried (and tested) without GPUs. `trainer.threads` caps TensorFlow's thread
pools (within an op and across ops): trials that share a machine then share its cores instead of
each starting one thread per core and fighting over them.
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from conf.errors import UserError

log = logging.getLogger("devices")


def configure_devices(trainer: DictConfig):
    """Apply the trainer's device settings; returns the tf.distribute strategy to build models under."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    try:
        if trainer.get("threads"):
            tf.config.threading.set_intra_op_parallelism_threads(trainer.threads)
            tf.config.threading.set_inter_op_parallelism_threads(trainer.threads)
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, bool(trainer.gpu_memory_growth))
        wanted_cpus = {int(d.split(":")[1]) for d in trainer.devices or [] if d.lower().startswith("/cpu")}
        if wanted_cpus and max(wanted_cpus) >= 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(max(wanted_cpus) + 1)])
    except RuntimeError:
        pass  # devices already initialised by an earlier stage in this process: settings stand
    keras.mixed_precision.set_global_policy(trainer.precision)
    if trainer.distribute == "none":
        return tf.distribute.get_strategy()
    available = {d.name.lower().replace("/device:", "/") for d in tf.config.list_logical_devices()}
    devices = [d.lower() for d in trainer.devices] if trainer.devices else [
        d.name.lower().replace("/device:", "/") for d in tf.config.list_logical_devices("GPU")]
    missing = [d for d in devices if not any(a.endswith(d) for a in available)]
    if missing or not devices:
        raise UserError(f"trainer.devices={list(trainer.devices) if trainer.devices else None}: "
                        f"{'no GPU found' if not devices else f'no device {missing[0]}'}; available: "
                        f"{', '.join(sorted(available))}")
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    log.info("mirrored over %d replicas: %s", strategy.num_replicas_in_sync, ", ".join(devices))
    return strategy

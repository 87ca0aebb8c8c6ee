"""What sees: the camera datasets, the perception CNN, and the wrappers that drive from pixels.

Pixels -> perception -> agent -> action, in a handful of files:

- ``envs/highway/camera.py``: the batched bird's-eye camera (``observation="camera"``);
- ``perception/dataset.py``: labelled, sharded datasets (labels from the simulator's own observations);
- ``perception/model.py`` + ``perception/decode.py``: the CNN and its detections -> Kinematics/occupancy;
- ``perception/train.py``, ``perception/metrics.py``: training and the acceptance metrics;
- ``perception/wrapper.py``: ``PerceptionWrapper(env, model)``, a camera env seen as a Kinematics env;
- ``perception/lidar.py``, ``perception/tracking.py``: the LiDAR beside the camera, its geometric objects,
  and the object-level fusion and tracking between the CNN's detections and the planner;
- ``perception/gridworld.py``: the gridworld chain, pixels -> map -> plan -> act.

Importing the package registers ``autodrive/<World>Perceived-v0`` for every driving world (HighwayFast,
Highway, Merge, Exit, Roundabout; kwarg ``model_dir``): the worlds seen through a trained model, by id,
for any evaluation code.
"""

import gymnasium as gym

PERCEIVED_IDS = {
    "autodrive/HighwayFastPerceived-v0": "highway-fast",
    "autodrive/HighwayPerceived-v0": "highway",
    "autodrive/MergePerceived-v0": "merge",
    "autodrive/ExitPerceived-v0": "exit",
    "autodrive/RoundaboutPerceived-v0": "roundabout",
}


def register_perceived_envs() -> None:
    """Register the perceived ids (entry points are strings: nothing heavy is imported here)."""
    for env_id, preset in PERCEIVED_IDS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="perception.wrapper:make_perceived_env",
                vector_entry_point="perception.wrapper:make_perceived_vec",
                kwargs={"preset": preset},
                disable_env_checker=True,
            )


register_perceived_envs()

"""`bench-policy`: does viewpoint augmentation help a policy? A closed-loop benchmark on the sample scene.

Modules: `env` (the closed-loop pick-and-place task on the MuJoCo sample scene, one arm by default, movable head camera),
`shifts` (rigid head-camera offsets: translation + the rotation that keeps the view on the table),
`expert` (the scripted expert's actions), `demos` (expert episodes -> AgiBot layout -> LeRobot v3 via
`convert`), `views` (novel head viewpoints per demonstration through the augment pipeline), `policy`
(a small visuomotor behaviour-cloning policy: conv encoders + MLP -> action chunk), `train` (training on
the LeRobot datasets read through lerobot's `LeRobotDataset`), `rollout` (closed-loop evaluation,
Wilson intervals, videos, worker processes), `pack` / `train_packs` (the training data as H.264 + npz, and the
same training on a machine without lerobot or PyAV: the GPU), `run` (the verb end to end: results JSON and plot).
"""

"""`bench-policy`: does viewpoint augmentation help a policy? A closed-loop benchmark on the sample scene.

Modules: `env` (the closed-loop pick-and-place task on the MuJoCo sample scene, movable head camera),
`shifts` (rigid head-camera offsets: translation + the rotation that keeps the view on the table),
`expert` (the scripted expert's actions), `demos` (expert episodes -> AgiBot layout -> LeRobot v3 via
`convert`), `views` (novel head viewpoints per demonstration through the augment pipeline), `policy`
(a small visuomotor behaviour-cloning policy: conv encoders + MLP -> action chunk), `train` (training on
the LeRobot datasets read through lerobot's `LeRobotDataset`), `rollout` (closed-loop evaluation,
Wilson intervals, videos), `run` (the verb end to end: results JSON and plot).
"""

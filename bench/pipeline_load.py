"""The load of the pipeline benchmark: N synthetic cameras as one ``produce cameras`` YAML, and the services.

Even cameras loop the fall sample (a person walks, falls at 4.5 s, lies there and calls for help), odd ones the
benign walk with room noise, all at the deployment's sampling defaults. The services are the platform's own,
each a separate process under the run's topic prefix: pose, scene (the full-size CLIP ViT-B/32 architecture on
ONNX Runtime, with random weights when the real ones are not on the machine: same cost, no meaning), audio,
fusion, projection and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from producers.samples import SampleSet

CAMERA_PREFIX = "bench-cam-"
RANDOM_CLIP_ID = "random/clip-vit-base-patch32"


@dataclass(frozen=True)
class Load:
    cameras: list[str]
    fall_cameras: list[str]
    #: Seconds into the fall clip at which the body reaches the floor, and the clip's length (it loops).
    fall_at_s: float
    fall_clip_s: float

    def falls_played(self, played_s: float) -> int:
        """Falls the fall cameras have shown in ``played_s`` seconds, counting only those that had time to be
        seen lying for a few seconds before the producer stopped."""
        settle_s = 3.0
        passes = 0
        t = self.fall_at_s + settle_s
        while t <= played_s:
            passes += 1
            t += self.fall_clip_s
        return passes * len(self.fall_cameras)


def camera_ids(n: int) -> list[str]:
    """Ids of a step of ``n`` cameras: new ones per step, so an incident of the step before is not this step's."""
    return [f"{CAMERA_PREFIX}{n:02d}-{i:02d}" for i in range(n)]


def write_cameras(path: Path, n: int, samples: SampleSet) -> Load:
    """The cameras file for ``anomaly produce cameras``; looping sources, real-time pace, sound on."""
    ids = camera_ids(n)
    entries = [
        {
            "id": cam,
            "name": f"Benchmark camera {i}",
            "source": str((samples.fall if i % 2 == 0 else samples.benign).path),
            "loop": True,
        }
        for i, cam in enumerate(ids)
    ]
    path.write_text(yaml.safe_dump({"defaults": {"realtime": True, "audio": True}, "cameras": entries}))
    fall = samples.fall.first("lying")
    return Load(
        cameras=ids,
        fall_cameras=ids[::2],
        fall_at_s=fall.start_s if fall is not None else samples.fall_at_s,
        fall_clip_s=samples.fall.duration_s,
    )

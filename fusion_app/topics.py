"""The fusion's topics and how their values are read and written (Avro through the registry, ``AvroSerde``)."""

from __future__ import annotations

from dataclasses import dataclass

from anomaly_core import topics as catalog
from anomaly_core.serde import AvroSerde
from fusion_app.observe import ScoreRecord
from schemas.records import AudioScore, CaptionScore, PoseScore, SceneScore


@dataclass(frozen=True, slots=True)
class FusionTopics:
    pose: str
    scene: str
    audio: str
    caption: str
    anomalies: str
    candidates: str
    state: str
    dlq: str

    @classmethod
    def for_prefix(cls, prefix: str) -> FusionTopics:
        return cls(
            pose=catalog.topic_name(catalog.SCORES_POSE, prefix),
            scene=catalog.topic_name(catalog.SCORES_SCENE, prefix),
            audio=catalog.topic_name(catalog.SCORES_AUDIO, prefix),
            caption=catalog.topic_name(catalog.SCORES_CAPTION, prefix),
            anomalies=catalog.topic_name(catalog.ANOMALIES, prefix),
            candidates=catalog.topic_name(catalog.ANOMALY_CANDIDATES, prefix),
            state=catalog.topic_name(catalog.FUSION_STATE, prefix),
            dlq=catalog.topic_name(catalog.DLQ, prefix),
        )

    @property
    def inputs(self) -> list[str]:
        """The co-partitioned inputs, keyed by camera id."""
        return [self.pose, self.scene, self.audio, self.caption]

    @property
    def scores(self) -> list[str]:
        """The inputs that carry evidence (captions only annotate incidents)."""
        return [self.pose, self.scene, self.audio]

    def record_class(self, topic: str) -> type[ScoreRecord]:
        classes: dict[str, type[ScoreRecord]] = {
            self.pose: PoseScore,
            self.scene: SceneScore,
            self.audio: AudioScore,
            self.caption: CaptionScore,
        }
        return classes[topic]


def decode_score(serde: AvroSerde, topics: FusionTopics, topic: str, value: bytes) -> ScoreRecord:
    """The score record of an input value; ``DecodeError`` with the reason when it is not one."""
    return serde.decode(topic, value, topics.record_class(topic))

"""Scene: prompt set, softmax over labels, anomaly probability (pure), and tiny CLIP through the real loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.scene import label_embeddings, load_prompt_set, probabilities, scene_result
from processors.settings import ProcessorSettings
from tests import model_fixtures

# Fixtures shared with other test modules (pytest finds them as module attributes).
tiny_model_cache = model_fixtures.tiny_model_cache
tiny_settings = model_fixtures.tiny_settings

REQUIRED = {
    "fight",
    "person falling",
    "person lying on the floor",
    "fire",
    "smoke",
    "weapon",
    "robbery",
    "vandalism",
    "crowd panic",
    "medical emergency",
}


@pytest.fixture(scope="module")
def prompt_set():  # type: ignore[no-untyped-def]
    return load_prompt_set(ProcessorSettings().prompts_file)


def test_prompt_set_has_the_anomaly_labels_and_normal_ones(prompt_set) -> None:  # type: ignore[no-untyped-def]
    anomaly = {lb.name for lb in prompt_set.labels if lb.is_anomaly}
    assert anomaly == REQUIRED
    assert any(not lb.is_anomaly for lb in prompt_set.labels)
    assert prompt_set.version
    assert all("{}" not in p for lb in prompt_set.labels for p in lb.prompts)


def test_prompt_set_rejects_duplicates_and_one_sided_sets(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text('version: "x"\nanomaly:\n  fire: ["a fire"]\n')
    with pytest.raises(ValueError, match="both"):
        load_prompt_set(path)


def test_label_embeddings_average_each_labels_prompts(prompt_set) -> None:  # type: ignore[no-untyped-def]
    n_prompts = sum(len(lb.prompts) for lb in prompt_set.labels)
    rng = np.random.default_rng(0)
    emb = label_embeddings(rng.normal(size=(n_prompts, 8)), prompt_set)
    assert emb.shape == (len(prompt_set.labels), 8)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)


def test_probabilities_softmax_and_anomaly_mass(prompt_set) -> None:  # type: ignore[no-untyped-def]
    n = len(prompt_set.labels)
    text = np.eye(n, dtype=np.float32)
    fire = prompt_set.names.index("fire")
    image = np.zeros((2, n), np.float32)
    image[0, fire] = 1.0  # an image that is exactly "fire"
    image[1] = 1.0  # an image equally similar to everything
    probs = probabilities(image, text, logit_scale=100.0)
    assert np.allclose(probs.sum(axis=1), 1.0)
    sharp = scene_result(probs[0], prompt_set)
    assert sharp.top_label == "fire" and sharp.anomaly_probability > 0.99
    flat = scene_result(probs[1], prompt_set)
    n_anomaly = sum(lb.is_anomaly for lb in prompt_set.labels)
    assert flat.anomaly_probability == pytest.approx(n_anomaly / n, abs=1e-5)
    assert [lp.label for lp in flat.labels] == prompt_set.names


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "torch-int8"])
def test_tiny_clip_through_the_loader(tiny_settings, backend) -> None:  # type: ignore[no-untyped-def]
    from processors.clip_loader import load_clip
    from processors.scene import score
    from producers.figure import person_frame

    model = load_clip(tiny_settings.model_copy(update={"clip_backend": backend}))
    assert model.info.name == "tiny/clip" and model.info.version.endswith(f"+{backend}")
    frames = [person_frame(96, 64)[:, :, ::-1], np.zeros((50, 70, 3), np.uint8)]
    batch = model.score_pixels([model.prepare(f) for f in frames])
    single = score(model, frames[0])
    assert len(batch) == 2
    assert batch[0].top_label == single.top_label
    assert batch[0].anomaly_probability == pytest.approx(single.anomaly_probability, abs=1e-4)
    for result in batch:
        assert sum(lp.probability for lp in result.labels) == pytest.approx(1.0, abs=1e-4)
        assert 0.0 <= result.anomaly_probability <= 1.0

"""One camera: capture -> bounded queue -> encode + store (durable) -> publish the reference, in order.

Threads: a capture thread decodes the source, decides each frame's stages (the motion gate, ``producers.motion``)
and puts jobs on a ``JobQueue`` (blocking for files, dropping the oldest frame for live sources); the calling
thread hands jobs to a small pool that encodes (JPEG / WAV) and stores them, and publishes each reference in
capture order once its object is stored. A reference is never published before ``ObjectStore.put`` has
returned, i.e. before the store acknowledged the object.

Store outages are retried with backoff for up to ``store_timeout_s``; the capture queue holds (files wait,
live sources drop counted frames) meanwhile. Kafka outages are handled by ``RefPublisher``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

import numpy as np

from anomaly_core.backoff import Backoff, Retry, give_up_after
from anomaly_core.objectstore import ObjectStore, sha256_hex
from producers.audio import TARGET_CHANNELS, TARGET_RATE, AudioChunk, AudioChunker, Resampler, encode_wav
from producers.jobqueue import DropPolicy, JobQueue
from producers.keys import audio_key, frame_key, validate_camera_id
from producers.metrics import ProducerMetrics, ProducerStats
from producers.motion import MOTION_THRESHOLD, GateSettings, MotionGate, luma, thumbnail
from producers.publisher import RefPublisher
from producers.sampling import CaptureClock, pace_delay
from producers.sources import Decoded, ReadOptions, Restart, SourceCounters, SourceSpec, read_source
from schemas.records import AudioChunkRef, AudioEncoding, FrameRef, FrameStage, ObjectRef

log = logging.getLogger(__name__)

# Event ids are derived from what the event is about, so replaying the same file with the same --origin
# yields the same ids and downstream idempotent sinks see duplicates, not new events.
_EVENT_NS = uuid.UUID("5b0f3c1e-8a52-4d0b-9d7c-6f1e2a9b7c41")


class StoreUnavailableError(Exception):
    """The object store refused writes for longer than ``store_timeout_s``."""


class StoppedError(Exception):
    """The pipeline was asked to stop while a job was still waiting for the store."""


@dataclass(frozen=True)
class Destinations:
    frames_topic: str
    audio_topic: str
    frames_bucket: str
    audio_bucket: str


@dataclass
class PipelineOptions:
    camera_id: str
    rate: float = 1.0  # FRAME_PROCESSING_RATE
    skip: int = 0  # FRAME_SKIP_RATE
    pose_rate: float = 5.0  # POSE_FRAME_RATE (the motion gate, ``producers.motion``)
    pose_hold_s: float = 2.0  # POSE_HOLD_SECONDS
    scene_max_interval_s: float = 10.0  # SCENE_MAX_INTERVAL_SECONDS
    motion_threshold: float = MOTION_THRESHOLD  # MOTION_THRESHOLD
    jpeg_quality: int = 85
    audio_chunk_seconds: float = 2.0
    realtime: bool = False
    max_frames: int | None = None
    queue_size: int = 32
    upload_workers: int = 2
    drop_policy: DropPolicy | None = None  # None: block for files played as fast as possible, else drop-oldest
    origin: datetime | None = None  # capture time of media time 0 (files); default: now
    store_timeout_s: float = 300.0

    def gate(self) -> GateSettings:
        """The motion gate's knobs, which these options carry under the same names."""
        return GateSettings(**{f.name: getattr(self, f.name) for f in fields(GateSettings)})


@dataclass
class FrameJob:
    seq: int
    captured_at: datetime
    media_offset_ms: int
    image: np.ndarray
    stages: tuple[FrameStage, ...] = (FrameStage.POSE, FrameStage.SCENE)
    motion: float = 0.0
    kind: str = "frame"


@dataclass
class AudioJob:
    seq: int
    start_at: datetime
    chunk: AudioChunk
    kind: str = "audio"


Job = FrameJob | AudioJob


@dataclass
class _Stored:
    job: Job
    ref: ObjectRef


@dataclass
class _AudioTrack:
    """Per-pass audio state: the resampler, the chunker and the capture time of the pass's first sample."""

    resampler: Resampler
    chunker: AudioChunker
    start_at: datetime


@dataclass
class CameraPipeline:
    spec: SourceSpec
    read: ReadOptions
    opts: PipelineOptions
    dest: Destinations
    store: ObjectStore
    publisher: RefPublisher
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        validate_camera_id(self.opts.camera_id)
        self.stats = ProducerStats(self.opts.camera_id)
        self.metrics = ProducerMetrics(self.opts.camera_id)
        self.counters = SourceCounters()
        policy = self.opts.drop_policy
        if policy is None:
            policy = DropPolicy.DROP_OLDEST if (self.spec.live or self.opts.realtime) else DropPolicy.BLOCK
        self.queue: JobQueue[Job] = JobQueue(self.opts.queue_size, policy)
        self._capture_error: BaseException | None = None
        self._frame_seq = 0
        self._audio_seq = 0

    # --- capture thread -----------------------------------------------------------------------------------------

    def _capture(self) -> None:
        try:
            self._capture_loop()
        except BaseException as exc:
            self._capture_error = exc
        finally:
            self.queue.close()

    def _capture_loop(self) -> None:
        origin = self.opts.origin or datetime.now(UTC)
        clock = CaptureClock(origin, live=self.spec.live)
        gate = MotionGate(self.opts.gate())
        track: _AudioTrack | None = None
        started_wall = time.monotonic()
        first_timeline: float | None = None
        corrupt_seen = 0
        for item in read_source(self.spec, self.read, self.counters, self.stop):
            if self.counters.corrupt_skipped > corrupt_seen:
                self.metrics.corrupt.inc(self.counters.corrupt_skipped - corrupt_seen)
                corrupt_seen = self.counters.corrupt_skipped
            if isinstance(item, Restart):
                self._finish_audio(track)
                track = None
                if not item.continuous:
                    gate.reset()
                    clock.restart()
                    self.metrics.reconnects.inc()
                continue
            wall = datetime.now(UTC)
            if item.kind == "audio":
                track = self._on_audio(item, track, clock, wall)
                continue
            self.stats.add(frames_decoded=1)
            decision = gate.decide(item.timeline_s, thumbnail(luma(item.frame)))
            if not decision.publish:
                continue
            if self.opts.realtime and not self.spec.live and item.timeline_s is not None:
                if first_timeline is None:
                    first_timeline = item.timeline_s
                delay = pace_delay(item.timeline_s, first_timeline, time.monotonic() - started_wall)
                if delay > 0 and self.stop.wait(delay):
                    break
            captured_at = clock.at(item.timeline_s, wall)
            offset_ms = round(item.media_s * 1000) if item.media_s is not None else 0
            image = item.frame.to_ndarray(format="bgr24")
            self._put(FrameJob(self._frame_seq, captured_at, offset_ms, image, decision.stages, decision.motion))
            self._frame_seq += 1
            self.stats.add(frames_captured=1)
            self.metrics.captured.inc()
            if self.opts.max_frames is not None and self._frame_seq >= self.opts.max_frames:
                break
        self._finish_audio(track)

    def _on_audio(self, item: Decoded, track: _AudioTrack | None, clock: CaptureClock, wall: datetime) -> _AudioTrack:
        if track is None:
            start_at = clock.at(item.timeline_s, wall, stream="audio")
            origin_s = item.media_s or 0.0
            end_s = self.counters.audio_end_s
            limit = None if end_s is None else max(0, round((end_s - origin_s) * TARGET_RATE))
            chunker = AudioChunker(TARGET_RATE, self.opts.audio_chunk_seconds, origin_s=origin_s, max_samples=limit)
            track = _AudioTrack(Resampler(TARGET_RATE), chunker, start_at)
        for chunk in track.chunker.push(track.resampler.push(item.frame)):
            self._put_audio(track, chunk)
        return track

    def _finish_audio(self, track: _AudioTrack | None) -> None:
        if track is None:
            return
        for chunk in [*track.chunker.push(track.resampler.push(None)), *track.chunker.flush()]:
            self._put_audio(track, chunk)

    def _put_audio(self, track: _AudioTrack, chunk: AudioChunk) -> None:
        start_at = track.start_at + timedelta(seconds=chunk.start_sample / chunk.sample_rate)
        self._put(AudioJob(self._audio_seq, start_at, chunk))
        self._audio_seq += 1
        self.stats.add(audio_chunks_captured=1)

    def _put(self, job: Job) -> None:
        victim = self.queue.put(job, self.stop)
        if victim is not None and victim is not job:  # ``job`` itself comes back only when stopping
            if victim.kind == "frame":
                self.stats.add(frames_dropped=1)
            else:
                self.stats.add(audio_chunks_dropped=1)
            self.metrics.dropped.labels(self.opts.camera_id, victim.kind).inc()
        self.metrics.queue_depth.set(len(self.queue))

    # --- store (pool threads) -----------------------------------------------------------------------------------

    def _encode(self, job: Job) -> tuple[str, str, bytes, str]:
        """(bucket, key, bytes, content type) of a job's object."""
        import cv2

        if isinstance(job, FrameJob):
            ok, buf = cv2.imencode(".jpg", job.image, [cv2.IMWRITE_JPEG_QUALITY, self.opts.jpeg_quality])
            if not ok:
                raise ValueError("JPEG encoding failed")
            data = buf.tobytes()
            key = frame_key(self.opts.camera_id, job.captured_at, sha256_hex(data))
            return self.dest.frames_bucket, key, data, "image/jpeg"
        data = encode_wav(job.chunk.samples, job.chunk.sample_rate)
        key = audio_key(self.opts.camera_id, job.start_at, sha256_hex(data), "wav")
        return self.dest.audio_bucket, key, data, "audio/wav"

    def _store(self, job: Job) -> _Stored:
        bucket, key, data, content_type = self._encode(job)
        started = time.monotonic()

        def put() -> ObjectRef:
            nonlocal started
            started = time.monotonic()
            return self.store.put(bucket, key, data, content_type)

        def unavailable(exc: Exception) -> StoreUnavailableError:
            return StoreUnavailableError(f"object store unavailable for {self.opts.store_timeout_s:.0f}s: {exc}")

        def retrying(exc: Exception, delay: float) -> None:
            self.stats.add(upload_retries=1)
            self.metrics.upload_retries.inc()
            log.warning("store put %s/%s failed (%s); retrying in %.2fs", bucket, key, exc, delay)

        def wait(delay: float) -> None:
            if self.stop.wait(delay):
                raise StoppedError

        give_up = give_up_after(self.opts.store_timeout_s, unavailable, from_first_failure=True)
        ref = Retry(retrying, Backoff(initial_s=0.2, max_s=5.0), give_up=give_up, wait=wait).call(put)
        took = time.monotonic() - started
        self.stats.add(bytes_stored=len(data), upload_seconds_total=took)
        self.metrics.upload_seconds.labels(self.opts.camera_id, job.kind).observe(took)
        self.metrics.bytes_stored.labels(self.opts.camera_id, job.kind).inc(len(data))
        self.metrics.object_size.labels(self.opts.camera_id, job.kind).observe(len(data))
        return _Stored(job, ref)

    # --- publish (calling thread) -------------------------------------------------------------------------------

    def _publish(self, stored: _Stored) -> None:
        job, ref, camera = stored.job, stored.ref, self.opts.camera_id
        if isinstance(job, FrameJob):
            height, width = job.image.shape[:2]
            event_id = uuid.uuid5(_EVENT_NS, f"frame/{camera}/{job.captured_at.isoformat()}/{ref.sha256}")
            frame = FrameRef(
                str(event_id),
                camera,
                job.seq,
                job.captured_at,
                job.media_offset_ms,
                ref,
                width,
                height,
                self.spec.kind,
                list(job.stages),
                round(job.motion, 4),
            )

            for_scene = FrameStage.SCENE in job.stages

            def frame_acked() -> None:
                self.stats.add(frames_published=1, scene_frames_published=int(for_scene))
                self.metrics.published.inc()
                if for_scene:
                    self.metrics.scene_published.inc()

            self.publisher.publish(self.dest.frames_topic, camera, frame, frame_acked)
            return
        chunk = job.chunk
        event_id = uuid.uuid5(_EVENT_NS, f"audio/{camera}/{job.start_at.isoformat()}/{ref.sha256}")
        record = AudioChunkRef(
            str(event_id),
            camera,
            job.seq,
            job.start_at,
            chunk.media_offset_ms,
            chunk.duration_ms,
            chunk.sample_rate,
            TARGET_CHANNELS,
            ref,
            AudioEncoding.WAV,
        )
        seconds = len(chunk.samples) / chunk.sample_rate

        def audio_acked() -> None:
            self.stats.add(audio_chunks_published=1, audio_seconds_published=seconds)
            self.metrics.audio_published.inc()

        self.publisher.publish(self.dest.audio_topic, camera, record, audio_acked)

    def run(self) -> ProducerStats:
        """Runs until the source ends (files), ``max_frames`` is reached or ``stop`` is set."""
        started = time.monotonic()
        capture = threading.Thread(target=self._capture, name=f"capture-{self.opts.camera_id}", daemon=True)
        window: deque[Future[_Stored]] = deque()
        limit = max(1, self.opts.upload_workers * 2)
        pool = ThreadPoolExecutor(max_workers=max(1, self.opts.upload_workers), thread_name_prefix="store")
        capture.start()
        try:
            while True:
                if window and (len(window) >= limit or window[0].done()):
                    self._publish(window.popleft().result())
                    continue
                job = self.queue.get(timeout=0.05)
                if job is not None:
                    window.append(pool.submit(self._store, job))
                    self.metrics.queue_depth.set(len(self.queue))
                elif self.queue.closed_and_empty:
                    break
            while window:
                self._publish(window.popleft().result())
            self.publisher.flush()
        except StoppedError:
            log.info("%s: stopped while the store was unavailable", self.opts.camera_id)
            self.publisher.flush()
        except BaseException:
            self.stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            capture.join(timeout=10)
            self.stats.corrupt_skipped = self.counters.corrupt_skipped
            self.stats.reconnects = self.counters.reconnects
            self.stats.elapsed_s = time.monotonic() - started
        if self._capture_error is not None:
            raise self._capture_error
        return self.stats

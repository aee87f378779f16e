"""``anomaly``: one CLI whose command groups read like a table of contents.

Each group lives in its own module and imports heavy libraries only inside its commands,
so ``anomaly --help`` stays instant.
"""

from __future__ import annotations

import typer

from anomaly_cli import (
    analyze_cmd,
    api_cmd,
    backtest_cmd,
    bench_cmd,
    cameras_cmd,
    demo_cmd,
    eval_cmd,
    fusion_cmd,
    models_cmd,
    notify_cmd,
    process_cmd,
    produce_cmd,
    projection_cmd,
    retention_cmd,
    stack_cmd,
    topics_cmd,
)

app = typer.Typer(
    name="anomaly",
    help="Multimodal anomaly detection on camera video and sound, streamed through Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_cmd.app, name="stack")
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(produce_cmd.app, name="produce")
app.add_typer(process_cmd.app, name="process")
app.add_typer(models_cmd.app, name="models")
app.add_typer(fusion_cmd.app, name="fusion")
app.add_typer(projection_cmd.app, name="projection")
app.add_typer(backtest_cmd.app, name="backtest")
app.add_typer(api_cmd.apikeys_app, name="apikeys")
app.add_typer(retention_cmd.app, name="retention")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(cameras_cmd.app, name="cameras")
app.add_typer(notify_cmd.app, name="notify")
app.command("api")(api_cmd.serve)
app.command("replay")(fusion_cmd.replay)
app.command("analyze")(analyze_cmd.analyze)
app.command("demo")(demo_cmd.demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""Request logs from the command line.

python -m service.requestlog to-warmup LOG... --output WARMUP_FILE
python -m service.requestlog to-warmup --prefix /var/log/blockserve/mlp --model mlp \
    --output /models/mlp/2/assets.extra/tf_serving_warmup_requests
"""

import argparse
import sys
from pathlib import Path

from service.requestlog.files import log_files
from service.requestlog.tfrecord import CorruptRecord
from service.requestlog.warmup import MAX_WARMUP_RECORDS, to_warmup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.requestlog", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    warmup = commands.add_parser(
        "to-warmup",
        help="turn logged requests into a version's warm-up records",
        description="Write the requests of request-log files as TensorFlow Serving warm-up "
        "records (PredictionLog TFRecords, responses left out), in the order logged.",
    )
    warmup.add_argument("logs", nargs="*", type=Path, help="request-log files, read in order")
    warmup.add_argument(
        "--prefix",
        action="append",
        default=[],
        help="a logging_config filename_prefix: every file written under it, oldest first",
    )
    warmup.add_argument("--output", type=Path, required=True, help="the warm-up file to write")
    warmup.add_argument("--model", default="", help="keep only this model's requests")
    warmup.add_argument(
        "--max_records",
        type=int,
        default=MAX_WARMUP_RECORDS,
        help=f"records kept at most (default {MAX_WARMUP_RECORDS}, TensorFlow Serving's limit)",
    )
    args = parser.parse_args(argv)
    logs = [*(p for prefix in args.prefix for p in log_files(prefix)), *args.logs]
    if not logs:
        parser.error("no request-log files: give files or a --prefix that has some")
    try:
        result = to_warmup(logs, args.output, args.model, args.max_records)
    except (OSError, CorruptRecord) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"wrote {result.written} warm-up records to {args.output} "
        f"(left out: {result.other_models} of other models, {result.not_replayed} not "
        f"replayable, {result.past_limit} past --max_records)"
    )
    return 0 if result.written else 1


if __name__ == "__main__":
    sys.exit(main())

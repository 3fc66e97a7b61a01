#!/usr/bin/env python3
"""Plot the JSON-lines logs of examples/mlm_pretrain and examples/finetune_classifier.

    plot_metrics.py LOG.jsonl [LOG2.jsonl ...] -o out.png [--title T] [--smooth N]

Panels (side by side, only those the logs have data for):
  1. training loss vs step: raw values (light) and a moving average (--smooth
     steps; default about 1/25 of the run);
  2. pretraining logs: held-out masked-token accuracy vs step, with perplexity
     on a second (log-scale) axis, dashed;
  3. fine-tuning logs: dev accuracy (solid) and dev macro F1 (dashed) vs epoch.
Several logs are overlaid, one colour each, labelled with the file name's stem
(e.g. finetune_pretrained vs finetune_scratch, as examples/demo.sh writes
them); the final summary line, when present, adds the test scores (fine-tuning)
or the initial -> final masked accuracy (pretraining) to the legend.

Records understood (one JSON object per line; other keys are ignored):
  {"step":N,"loss":x,...}                         a training step (both tools)
  {"step":N,"eval_masked_accuracy":x,"eval_perplexity":x,...}   MLM evaluation
  {"epoch":E,"train_loss":x,"dev_accuracy":x,"dev_macro_f1":x}  fine-tuning epoch
  {"final":...,...}                               the run's summary (last line)
The tools append to an existing log, so one file may hold several runs: a
record after a `"final": true` summary starts a new run (only the last run is
plotted), and a step or epoch that goes backwards (a run resumed from an
earlier checkpoint) replaces the records from that point on.

Needs matplotlib (Debian: apt-get install python3-matplotlib, then run it with
/usr/bin/python3; or pip install matplotlib). Renders with the Agg backend, no
display needed.
"""

import argparse
import json
import math
import os
import sys


class LogError(Exception):
    pass


def number(value):
    """A finite float, or None (missing, null, not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Run:
    """The records of one run of one log, keyed by step / epoch."""

    def __init__(self):
        self.loss = {}      # step -> training loss
        self.evals = {}     # step -> (masked accuracy, perplexity)
        self.epochs = {}    # epoch -> (dev accuracy, dev macro F1, train loss)
        self.summary = None

    def empty(self):
        return not (self.loss or self.evals or self.epochs)

    @staticmethod
    def _rewind(table, key):
        """A key at or before the last one: a resumed or restarted run;
        forget everything from `key` on."""
        if table and key <= max(table):
            for k in [k for k in table if k >= key]:
                del table[k]

    def add(self, rec):
        step, epoch = number(rec.get("step")), number(rec.get("epoch"))
        if "eval_masked_accuracy" in rec and step is not None:
            self._rewind(self.evals, step)
            self.evals[step] = (number(rec.get("eval_masked_accuracy")),
                                number(rec.get("eval_perplexity")))
        elif "loss" in rec and step is not None:
            self._rewind(self.loss, step)
            self._rewind(self.evals, step + 1)  # evaluations past a resume point are stale too
            value = number(rec["loss"])
            if value is not None:
                self.loss[step] = value
        elif "train_loss" in rec and epoch is not None:
            self._rewind(self.epochs, epoch)
            self.epochs[epoch] = (number(rec.get("dev_accuracy")), number(rec.get("dev_macro_f1")),
                                  number(rec.get("train_loss")))


def read_log(path):
    """The last run of a log file. Raises LogError naming file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise LogError("%s: cannot read: %s" % (path, e))
    lines = text.split("\n")
    runs, run, n_records = [], Run(), 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            if lineno == len(lines) and not text.endswith("\n"):
                print("plot_metrics: %s:%d: ignoring an incomplete last line (a run still writing?)"
                      % (path, lineno), file=sys.stderr)
                break
            raise LogError("%s:%d: not a JSON record (%s): %.80s" % (path, lineno, e, line))
        if not isinstance(rec, dict):
            raise LogError("%s:%d: expected a JSON object, got %s" % (path, lineno, type(rec).__name__))
        n_records += 1
        if "final" in rec:
            run.summary = rec
            if rec["final"] is True:  # finished: whatever follows is a new run
                runs.append(run)
                run = Run()
            continue
        run.add(rec)
    if not run.empty() or run.summary is not None:
        runs.append(run)
    if n_records == 0:
        raise LogError("%s: empty: no JSON records" % path)
    runs = [r for r in runs if not r.empty()]
    if not runs:
        raise LogError("%s: no training records ({\"step\",\"loss\"}, {\"eval_masked_accuracy\"} or "
                       "{\"epoch\",\"train_loss\"}): is it a log of mlm_pretrain or finetune_classifier?" % path)
    if len(runs) > 1:
        print("plot_metrics: %s holds %d runs (the tools append to their log); plotting the last"
              % (path, len(runs)), file=sys.stderr)
    return runs[-1]


def moving_average(values, window):
    """Trailing mean over up to `window` values (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def legend_names(paths):
    """File stems; parent/stem where two stems collide."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    names = []
    for p, s in zip(paths, stems):
        if stems.count(s) > 1:
            s = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(p))), s)
        names.append(s)
    return names


def summary_note(run):
    s = run.summary or {}
    parts = []
    acc, f1 = number(s.get("test_accuracy")), number(s.get("test_macro_f1"))
    if acc is not None:
        parts.append("test acc %.3f" % acc)
    if f1 is not None:
        parts.append("macro F1 %.3f" % f1)
    first, last = number(s.get("initial_masked_accuracy")), number(s.get("eval_masked_accuracy"))
    if first is not None and last is not None:
        parts.append("masked acc %.3f \u2192 %.3f" % (first, last))
    if s.get("final") is False:
        parts.append("interrupted")
    return " (%s)" % ", ".join(parts) if parts else ""


def plot(paths, runs, out, title=None, smooth=None):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        hint = " (try /usr/bin/python3)" if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") else ""
        raise LogError("matplotlib is not installed for %s%s: apt-get install python3-matplotlib "
                       "or pip install matplotlib" % (sys.executable, hint))

    names = legend_names(paths)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {i: colors[i % len(colors)] for i in range(len(runs))}
    has_loss = any(r.loss for r in runs)
    has_mlm = any(r.evals for r in runs)
    has_dev = any(any(a is not None for a, _, _ in r.epochs.values()) for r in runs)
    panels = [k for k, present in (("loss", has_loss), ("mlm", has_mlm), ("dev", has_dev)) if present]
    if not panels:  # e.g. epoch records without dev scores only
        panels = ["loss"]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    axes = dict(zip(panels, axes[0]))

    if "loss" in axes:
        ax = axes["loss"]
        for i, (run, name) in enumerate(zip(runs, names)):
            if not run.loss:
                continue
            steps = sorted(run.loss)
            values = [run.loss[s] for s in steps]
            window = smooth or max(1, min(200, round(len(steps) / 25)))
            ax.plot(steps, values, color=color[i], alpha=0.25, linewidth=0.8)
            ax.plot(steps, moving_average(values, window), color=color[i], linewidth=1.8,
                    label="%s (avg of %d)" % (name, window) if window > 1 else name)
        ax.set_title("training loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (light: per step)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    if "mlm" in axes:
        ax = axes["mlm"]
        twin = ax.twinx()
        lines = []
        for i, (run, name) in enumerate(zip(runs, names)):
            if not run.evals:
                continue
            steps = sorted(run.evals)
            acc = [(s, run.evals[s][0]) for s in steps if run.evals[s][0] is not None]
            ppl = [(s, run.evals[s][1]) for s in steps if run.evals[s][1] is not None]
            if acc:
                lines += ax.plot(*zip(*acc), color=color[i], marker="o", markersize=3.5,
                                 label="%s: accuracy%s" % (name, summary_note(run)))
            if ppl:
                lines += twin.plot(*zip(*ppl), color=color[i], linestyle="--", alpha=0.7,
                                   label="%s: perplexity" % name)
        ax.set_title("held-out masked-token accuracy and perplexity")
        ax.set_xlabel("step")
        ax.set_ylabel("masked-token accuracy (solid)")
        twin.set_ylabel("perplexity (dashed, log scale)")
        if any(l.get_label().endswith(": perplexity") for l in lines):
            twin.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(lines, [l.get_label() for l in lines], fontsize=8, loc="center right")

    if "dev" in axes:
        ax = axes["dev"]
        for i, (run, name) in enumerate(zip(runs, names)):
            epochs = sorted(run.epochs)
            acc = [(e, run.epochs[e][0]) for e in epochs if run.epochs[e][0] is not None]
            f1 = [(e, run.epochs[e][1]) for e in epochs if run.epochs[e][1] is not None]
            if acc:
                ax.plot(*zip(*acc), color=color[i], marker="o", markersize=4,
                        label="%s: accuracy%s" % (name, summary_note(run)))
            if f1:
                ax.plot(*zip(*f1), color=color[i], marker="s", markersize=3, linestyle="--",
                        alpha=0.8, label="%s: macro F1" % name)
        ax.set_title("dev set after each epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (solid) / macro F1 (dashed)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)

    fig.suptitle(title or " vs ".join(names))
    fig.tight_layout()
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Plot JSON-lines logs of examples/mlm_pretrain and examples/finetune_classifier "
                    "(training loss; masked-token accuracy/perplexity or dev accuracy/F1) into a PNG.")
    ap.add_argument("logs", nargs="+", metavar="LOG.jsonl", help="one or more --log files; overlaid")
    ap.add_argument("-o", "--output", required=True, metavar="OUT.png", help="image to write")
    ap.add_argument("--title", help="figure title (default: the log names)")
    ap.add_argument("--smooth", type=int, metavar="N",
                    help="moving-average window in steps for the loss (default: ~1/25 of the run)")
    args = ap.parse_args(argv)
    if args.smooth is not None and args.smooth < 1:
        ap.error("--smooth must be >= 1")
    try:
        runs = [read_log(p) for p in args.logs]
        plot(args.logs, runs, args.output, args.title, args.smooth)
    except LogError as e:
        print("plot_metrics: %s" % e, file=sys.stderr)
        return 1
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

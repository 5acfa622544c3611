"""`python -m sim` runs the full report; `python -m sim report --quick` a smoke run;
`python -m sim what-if ...` is the managers' tool (same as `onewindow what-if`)."""
import sys

from sim import report

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["what-if"]:
        import argparse

        from sim import cli

        parser = argparse.ArgumentParser(prog="python -m sim")
        cli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(argv)
        sys.exit(args.func(args))
    if argv[:1] == ["report"]:
        argv = argv[1:]
    sys.exit(report.main(argv))

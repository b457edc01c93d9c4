"""The ``tricenter`` command line.

Each sub-command lives in the module that implements it; that module defines
``add_cli_arguments(parser)`` and ``run_cli(args)``. Modules are imported only when
their sub-command runs, so ``tricenter --help`` stays fast and optional dependencies
(PySCF, tblite, ...) are needed only by the sub-commands that use them.
"""

import argparse
import importlib
import sys


COMMANDS = {
    "demo": (
        "tricenter.paper.demo",
        "show the bispectrum degeneracy and train quick models",
    ),
    "label": ("tricenter.labelling.label", "label structures with DFT or GFN2-xTB"),
    "train": ("tricenter.train.training", "train a model from a YAML configuration"),
    "reproduce": ("tricenter.paper.table1", "reproduce the paper's results"),
    "export": ("tricenter.export", "export a trained model for metatomic engines"),
}


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="tricenter", description=__doc__.split("\n")[0]
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help, description=help)
        subparser.set_defaults(_module=module)
    return parser, subparsers


def main(argv=None):
    """Entry point of the ``tricenter`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, subparsers = _build_parser()
    if argv and argv[0] in COMMANDS:
        module = importlib.import_module(COMMANDS[argv[0]][0])
        module.add_cli_arguments(subparsers.choices[argv[0]])
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    return module.run_cli(args)

"""The ``tricenter`` command line.

Each sub-command lives in the module that implements it; that module defines
``add_cli_arguments(parser)`` and ``run_cli(args)``. Modules are imported only when
their sub-command runs, so ``tricenter --help`` stays fast and optional dependencies
(PySCF, tblite, ...) are needed only by the sub-commands that use them.

A user's mistake (a missing or malformed file, a bad value, a missing optional
dependency) ends the command with ``tricenter COMMAND: error: MESSAGE`` on
the standard error and exit status 1; argparse keeps exit status 2 for a command line
it cannot parse, and an interrupted command (Ctrl-C) exits with status 130. The global
option ``--traceback``, or ``TRICENTER_TRACEBACK=1`` in the environment, shows the full
traceback instead, for bug reports. Any other exception is a bug and always shows its
traceback.
"""

import argparse
import importlib
import os
import sys

from .. import __version__


COMMANDS = {
    "demo": (
        "tricenter.paper.demo",
        "show the bispectrum degeneracy and train quick models",
    ),
    "label": ("tricenter.labelling.label", "label structures with DFT or GFN-xTB"),
    "train": ("tricenter.train.run", "train a model from a YAML configuration"),
    "reproduce": ("tricenter.paper.reproduce", "reproduce the paper's results"),
    "export": ("tricenter.export", "export a trained model for metatomic engines"),
}

#: Exceptions that report a user's mistake rather than a bug: bad values and malformed
#: files (ValueError), missing or unreadable files (OSError) and missing optional
#: dependencies (ImportError, whose messages name the extra to install); PyYAML's
#: ``YAMLError`` (a malformed YAML file) is one too.
USER_ERRORS = (ValueError, OSError, ImportError)

#: Exit status of a command that failed on a user's mistake.
EXIT_ERROR = 1
#: Exit status of an interrupted command (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
Complete three-centre (triplet) features of atomic environments and the models
built on them. Run 'tricenter COMMAND --help' for the options of a command."""

_EPILOG = f"""\
Errors in the input print a short message and exit with status {EXIT_ERROR}; add
--traceback (or set TRICENTER_TRACEBACK=1) to see the full traceback when reporting
a bug."""


def _add_traceback_option(parser):
    # accepted before and after the command; main() reads it from argv, so that it
    # holds even when importing the sub-command's module fails
    parser.add_argument(
        "--traceback",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of errors (for bug reports)",
    )


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="tricenter",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"tricenter {__version__}"
    )
    _add_traceback_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help, description=help)
        _add_traceback_option(subparser)
        subparser.set_defaults(_module=module)
    return parser, subparsers


def _command(argv):
    # the global options are flags, so the first word that is not one is the command
    words = [word for word in argv if not word.startswith("-")]
    return words[0] if words else None


def _traceback_wanted(argv) -> bool:
    return "--traceback" in argv or os.environ.get("TRICENTER_TRACEBACK") == "1"


def _is_user_error(error: Exception) -> bool:
    # a YAMLError can only come from a PyYAML that is already imported: looking it up
    # there keeps PyYAML out of ``tricenter --help``
    yaml = sys.modules.get("yaml")
    errors = USER_ERRORS if yaml is None else (*USER_ERRORS, yaml.YAMLError)
    return isinstance(error, errors)


def _run(argv):
    parser, subparsers = _build_parser()
    command = _command(argv)
    if command in COMMANDS:
        module = importlib.import_module(COMMANDS[command][0])
        module.add_cli_arguments(subparsers.choices[command])
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    return module.run_cli(args)


def main(argv=None) -> int:
    """
    Entry point of the ``tricenter`` command.

    :param argv: the arguments after the program name (default: ``sys.argv[1:]``)
    :return: the exit status: 0 on success, 1 when the input is wrong, 2 when the
        command line cannot be parsed, 130 when interrupted
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    prefix = "tricenter" if command not in COMMANDS else f"tricenter {command}"
    try:
        return _run(argv)
    except KeyboardInterrupt:
        if _traceback_wanted(argv):
            raise
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if not _is_user_error(error) or _traceback_wanted(argv):
            raise
        message = str(error) or type(error).__name__
        print(f"{prefix}: error: {message}", file=sys.stderr)
        return EXIT_ERROR

"""Shell completion scripts for bash and zsh, written from the parser (so new verbs appear)."""

from __future__ import annotations

import argparse

from orchestrator.cliguide import option_strings, verb_parsers

SHELLS = ("bash", "zsh")

_HEAD = """\
# mjv completion for {shell}: add `eval "$(mjv completion {shell})"` to ~/.{rc}
_mjv() {{
  local cur prev verb i
  cur="${{COMP_WORDS[COMP_CWORD]}}"
  prev="${{COMP_WORDS[COMP_CWORD-1]}}"
  verb=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{COMP_WORDS[i]}}" in -*) ;; *) verb="${{COMP_WORDS[i]}}"; break ;; esac
  done
  COMPREPLY=()
  case "$verb" in
"""

# bashcompinit needs the completion system (compdef); load it unless ~/.zshrc already did.
_ZSH_HEAD = """\
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }
autoload -U +X bashcompinit && bashcompinit
"""

_TAIL = """\
  esac
}
complete -o default -F _mjv mjv
"""


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (one of SHELLS)."""
    rc = "zshrc" if shell == "zsh" else "bashrc"
    text = _HEAD.format(shell=shell, rc=rc) + _root_case(parser)
    for verb, sub in verb_parsers(parser).items():
        text += _verb_case(verb, sub)
    text += _TAIL
    if shell == "zsh":  # zsh runs bash completion functions through bashcompinit
        text = _ZSH_HEAD + text
    return text


def _root_case(parser: argparse.ArgumentParser) -> str:
    words = [*verb_parsers(parser), *option_strings(parser)]
    return f'    "") COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur")) ;;\n'


def _verb_case(verb: str, parser: argparse.ArgumentParser) -> str:
    nested = verb_parsers(parser)
    flags = option_strings(parser) + [f for sub in nested.values() for f in option_strings(sub)]
    lines = [f"    {verb})\n", '      case "$prev" in\n']
    for flag, choices in _choices(parser, nested):
        lines.append(
            f'        {flag}) COMPREPLY=($(compgen -W "{choices}" -- "$cur")); return ;;\n'
        )
    lines.append("      esac\n")
    words = " ".join([*nested, *flags])
    lines.append(f'      [[ "$cur" == -* || -n "{" ".join(nested)}" ]] && ')
    lines.append(f'COMPREPLY=($(compgen -W "{words}" -- "$cur")) ;;\n')
    return "".join(lines)


def _choices(
    parser: argparse.ArgumentParser, nested: dict[str, argparse.ArgumentParser]
) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for each in (parser, *nested.values()):
        for action in each._actions:
            if (
                action.choices
                and action.option_strings
                and not isinstance(action, argparse._SubParsersAction)
            ):
                for flag in action.option_strings:
                    found[flag] = " ".join(str(c) for c in action.choices)
    return sorted(found.items())

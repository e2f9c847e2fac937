# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for zeolite(1): commands, options and spec files.
_zeolite()
{
	local cur prev words cword
	_init_completion || return

	local global='-c --config --storedir --lock-timeout --json -v --verbose -q --quiet -h --help -V --version'
	local cmds='build plan check snapshot prepare status gc'
	local cmd='' i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-c|--config|--storedir|--lock-timeout) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	case $prev in
	-c|--config) _filedir toml; _filedir conf; return ;;
	--storedir) _filedir -d; return ;;
	--lock-timeout) return ;;
	esac

	case $cmd in
	'')
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		fi ;;
	build)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--help --dry-run --json --clear-autoresume --purge --purgeonly --jobs --keep-going --fail-fast' -- "$cur"))
		else
			_filedir spec
		fi ;;
	plan)
		if [[ $prev == --format ]]; then
			COMPREPLY=($(compgen -W 'text json make slurm' -- "$cur"))
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--help --json --format' -- "$cur"))
		else
			_filedir spec
		fi ;;
	check)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--help --json' -- "$cur"))
		else
			_filedir spec
		fi ;;
	snapshot)
		case $prev in
		--repo|--git-dir) _filedir -d; return ;;
		--format) COMPREPLY=($(compgen -W 'sqfs tar.xz tar.zst' -- "$cur")); return ;;
		esac
		COMPREPLY=($(compgen -W '--help --repo --git-dir --repo-name --format' -- "$cur")) ;;
	prepare) COMPREPLY=($(compgen -W '--help --json --hold' -- "$cur")) ;;
	status) COMPREPLY=($(compgen -W '--help --json' -- "$cur")) ;;
	gc) COMPREPLY=($(compgen -W '--help --keep --dry-run' -- "$cur")) ;;
	esac
}
complete -F _zeolite zeolite

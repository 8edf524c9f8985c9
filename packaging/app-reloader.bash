# bash completion for app-reloader(1)                      -*- shell-script -*-

_app_reloader_instances() {
    # The instances systemd knows, by number; spare while a rollout runs.
    systemctl list-units --all --plain --no-legend --no-pager 'app@*.service' 2>/dev/null |
        sed -n 's/^app@\([0-9a-z]*\)\.service.*/\1/p'
}

_app_reloader() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="reload status describe logs top scale deploy check import-pm2 guard help"
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands -h --help" -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]} flags=""
    case $cmd in
        reload)     flags="-config -host -json -lock -parallel -plain -report -ssh -verbose -wait-lock" ;;
        status)     flags="-config -host -json -report -ssh" ;;
        describe)   flags="-config -json -show-env" ;;
        logs)       flags="-f -json -n -since" ;;
        top)        flags="-config -interval -n" ;;
        scale)      flags="-config -json -lock -plain -verbose -wait-lock" ;;
        deploy)     flags="-host -json -parallel -ssh" ;;
        check)      flags="-config -json" ;;
        import-pm2) flags="-app -env -json -o" ;;
        guard)      flags="-dir -max-restarts -socket -stopped -window" ;;
    esac
    case $prev in
        -config | -lock | -report | -o | -dir)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        -host)
            # The hosts ssh knows by name.
            COMPREPLY=($(compgen -A hostname -- "$cur"))
            return ;;
        -n | -since | -interval | -app | -env | -window | -max-restarts | -socket | -parallel | -ssh)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags -h" -- "$cur"))
        return
    fi
    case $cmd in
        describe | logs) COMPREPLY=($(compgen -W "$(_app_reloader_instances)" -- "$cur")) ;;
        scale)           COMPREPLY=($(compgen -W "auto +1 -1" -- "$cur")) ;;
        import-pm2)      COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur")) ;;
        deploy)          COMPREPLY=($(compgen -f -X '!*.deb' -- "$cur") $(compgen -d -- "$cur")) ;;
        help)            COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
    esac
}
complete -F _app_reloader app-reloader

# bash completion for app-reloader(1)                      -*- shell-script -*-

_app_reloader_instances() {
    # The instances systemd knows: the package's app's by number (spare
    # while a rollout runs), the other apps' as APP:N.
    systemctl list-units --all --plain --no-legend --no-pager 'app@*.service' 'app-*@*.service' 2>/dev/null |
        sed -n -e 's/^app@\([0-9a-z]*\)\.service.*/\1/p' -e 's/^app-\([a-z0-9-]*\)@\([0-9a-z]*\)\.service.*/\1:\2/p'
}

_app_reloader_apps() {
    # app, and every app configured in /etc/app/apps.d.
    local f
    echo app
    for f in /etc/app/apps.d/*.toml; do
        [[ -e $f ]] && basename "$f" .toml
    done
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
        reload)     flags="-apps -config -host -json -lock -parallel -plain -report -ssh -verbose -wait-lock" ;;
        status)     flags="-apps -config -host -json -report -ssh" ;;
        describe)   flags="-apps -config -json -show-env" ;;
        logs)       flags="-apps -config -f -json -n -since" ;;
        top)        flags="-apps -config -interval -n" ;;
        scale)      flags="-apps -config -json -lock -plain -verbose -wait-lock" ;;
        deploy)     flags="-host -json -parallel -ssh" ;;
        check)      flags="-apps -config -json" ;;
        import-pm2) flags="-app -env -json -o" ;;
        guard)      flags="-dir -max-restarts -socket -stopped -window" ;;
    esac
    case $prev in
        -config | -lock | -report | -o | -dir | -apps)
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
        describe)        COMPREPLY=($(compgen -W "$(_app_reloader_instances)" -- "$cur")) ;;
        logs)            COMPREPLY=($(compgen -W "$(_app_reloader_instances) $(_app_reloader_apps)" -- "$cur")) ;;
        reload | status | top | check)
                         COMPREPLY=($(compgen -W "$(_app_reloader_apps)" -- "$cur")) ;;
        scale)           COMPREPLY=($(compgen -W "auto +1 -1 $(_app_reloader_apps)" -- "$cur")) ;;
        import-pm2)      COMPREPLY=($(compgen -f -X '!*.@(json|yml|yaml|js|cjs|mjs)' -- "$cur") $(compgen -d -- "$cur")) ;;
        deploy)          COMPREPLY=($(compgen -f -X '!*.deb' -- "$cur") $(compgen -d -- "$cur")) ;;
        help)            COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
    esac
}
complete -F _app_reloader app-reloader

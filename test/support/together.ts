/**
 * Issue 15's "done when" package, for both runtimes: it reads a connected cluster through `ccli --get`,
 * its own members through `configmacro`, and orders its roles with `ccli --tokenwake`/`--tokenwait`
 * (docs/adr/0047): the first role wakes `head-ready`, every other role's --configure waits for it.
 * Each run logs one line to $GUESTCONFIG_DIR/together.log: `--configure ROLE store=FQDNS all=FQDNS`,
 * `--addnodes all=FQDNS` or `--delnodes all=FQDNS`.
 */
export const togetherScript = (store: string, storeRole: string, headRole: string) => `log=$GUESTCONFIG_DIR/together.log
role=$(ccli --get node.role_id) || exit 1
store=$(ccli --get connections.clusters.${store}.nodegroups.1.roles.${storeRole}.fqdns) || exit 1
all=$(configmacro nodegroup --get_all_fqdns) || exit 1
case $1 in
  --configure)
    if [ "$role" = ${headRole} ]; then ccli --tokenwake head-ready || exit 1
    else ccli --tokenwait head-ready -t 240 || exit 1; fi
    echo "--configure $role store=$store all=$all" >> "$log" ;;
  --addnodes | --delnodes) echo "$1 all=$all" >> "$log" ;;
esac
exit 0
`;

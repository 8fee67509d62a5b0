#!/usr/bin/env bash
# seed-rt.sh - idempotently create what releasedesk needs in the RT started by
# scripts/rt/start-rt.sh, through RT's Perl API (same SQLite database as the
# running server). Run as root. Safe to re-run: existing objects are kept,
# missing values / rights / members are added, the scrip code is brought up to
# date, tokens are reused while their file is valid.
#
#   seed-rt.sh                 everything below (first run ~5 s, re-run ~2-3 s)
#   seed-rt.sh --webhook-only  only the webhook target (attribute), ~1.5 s; prints the
#                              previous setting as WEBHOOK_PREVIOUS=<json|null>
#
# Seeded: queue $RT_QUEUE; ticket CFs RepoAction / RepoStatus / RepoURI (Select,
# Select, Freeform; one value each) on it; groups TechnologyUnit ∋ tug1,
# RolloutCoordinators ∋ rollout1 (privileged), SoftwareProviders ∋ provider1
# (unprivileged: creates tickets, sets RepoAction, sees and comments on the
# tickets it requested); the service user releasedesk (privileged, not SuperUser:
# sees tickets, comments, writes RepoStatus/RepoURI, SeeGroup on the three groups);
# REST2 tokens; the scrip "Releasedesk: RepoAction webhook"; the attribute
# ReleasedeskWebhook on RT->System {url, secret, timeout, field}, read by the scrip
# on every run, so the target changes without restarting RT.
#
# Environment:
#   RELEASEDESK_WEBHOOK_SECRET   HMAC-SHA256 key of X-RT-Signature, >= 16 characters; releasedesk's
#                                WEBHOOK_SECRET must be the same. Required by the first seed, by
#                                --webhook-only and with RELEASEDESK_WEBHOOK_URL; a re-seed without
#                                it keeps the target RT already has.
#   RELEASEDESK_WEBHOOK_URL      default http://127.0.0.1:8080/webhooks/rt ("" = scrip sends nothing)
#   RELEASEDESK_WEBHOOK_TIMEOUT  seconds the scrip waits for the answer (default 5)
#   RT_STATE_DIR                 default /var/lib/releasedesk-rt; tokens in $RT_STATE_DIR/tokens/<user>.token
#   RT_QUEUE                     default Releases
#   TUG1_PASSWORD ROLLOUT1_PASSWORD PROVIDER1_PASSWORD   default <user>-password
# Prints NAME_TOKEN=<token> for releasedesk, provider1, tug1, rollout1, root, then the ids.
# Tokens hashed at a higher bcrypt cost than RT's $BcryptCost (start-rt.sh) are re-issued.
set -euo pipefail

MODE=full
case "${1:-}" in
  '') ;;
  --webhook-only) MODE=webhook ;;
  -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
  *) echo "[seed-rt] ERROR: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

RT_STATE_DIR="${RT_STATE_DIR:-/var/lib/releasedesk-rt}"
export SEED_MODE="$MODE"
export RT_QUEUE="${RT_QUEUE:-Releases}"
RELEASEDESK_WEBHOOK_URL_GIVEN="${RELEASEDESK_WEBHOOK_URL+yes}"
export RELEASEDESK_WEBHOOK_URL="${RELEASEDESK_WEBHOOK_URL-http://127.0.0.1:8080/webhooks/rt}"
export RELEASEDESK_WEBHOOK_SECRET="${RELEASEDESK_WEBHOOK_SECRET:-}"
export RELEASEDESK_WEBHOOK_TIMEOUT="${RELEASEDESK_WEBHOOK_TIMEOUT:-5}"
export TUG1_PASSWORD="${TUG1_PASSWORD:-tug1-password}"
export ROLLOUT1_PASSWORD="${ROLLOUT1_PASSWORD:-rollout1-password}"
export PROVIDER1_PASSWORD="${PROVIDER1_PASSWORD:-provider1-password}"
export TOKEN_DIR="$RT_STATE_DIR/tokens"
export RT_SITE_CONFIG="$RT_STATE_DIR/RT_SiteConfig.pm" RT_SITE_CONFIG_DIR="$RT_STATE_DIR/RT_SiteConfig.d"

die() { echo "[seed-rt] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "[seed-rt] ERROR: must run as root" >&2; exit 2; }
[ -s "$RT_SITE_CONFIG" ] && [ -s "$RT_STATE_DIR/rt.sqlite" ] \
  || die "no RT in $RT_STATE_DIR (config or database missing); run scripts/rt/start-rt.sh first"
# The secret is needed to set the webhook target. A full re-seed without it keeps the target
# already in RT (so a re-seed cannot silently point RT elsewhere); the first seed needs it.
if [ -n "$RELEASEDESK_WEBHOOK_SECRET" ]; then
  [ "${#RELEASEDESK_WEBHOOK_SECRET}" -ge 16 ] \
    || die "RELEASEDESK_WEBHOOK_SECRET must be at least 16 characters (releasedesk's WEBHOOK_SECRET must match)"
  export SEED_WEBHOOK=set
elif [ "$MODE" = webhook ] || [ -n "${RELEASEDESK_WEBHOOK_URL_GIVEN:-}" ]; then
  die "RELEASEDESK_WEBHOOK_SECRET is required to set the webhook target (>= 16 characters; releasedesk's WEBHOOK_SECRET must match)"
else
  export SEED_WEBHOOK=keep
fi
case "$RELEASEDESK_WEBHOOK_URL" in
  ''|http://*|https://*) ;;
  *) die "RELEASEDESK_WEBHOOK_URL must be an http(s) URL, got '$RELEASEDESK_WEBHOOK_URL'" ;;
esac
case "$RELEASEDESK_WEBHOOK_TIMEOUT" in
  ''|*[!0-9]*|0) die "RELEASEDESK_WEBHOOK_TIMEOUT must be a positive number of seconds" ;;
esac
[ "$MODE" = webhook ] || install -d -o root -g root -m 700 "$TOKEN_DIR"

exec perl -I/usr/share/request-tracker5/lib -w - <<'PERL'
use strict;
use warnings;
use RT;
use JSON::PP ();
RT::LoadConfig();
RT::Init();

my $SU = RT->SystemUser;
sub say_ { print STDERR "[seed-rt] @_\n" }
sub ok_or_die { my ($ok, $msg, $what) = @_; die "[seed-rt] ERROR: $what: $msg\n" unless $ok; }

# --------------------------------------------------------- webhook target
# One attribute on RT->System; the scrip reads it on every transaction.
my $WEBHOOK_ATTR = 'ReleasedeskWebhook';
sub load_webhook {
    my $attrs = RT::Attributes->new($SU);
    $attrs->LimitToObject(RT->System);
    $attrs->Limit(FIELD => 'Name', VALUE => $WEBHOOK_ATTR);
    my $have = $attrs->First;
    return $have && ref $have->Content eq 'HASH' ? $have->Content : undef;
}
# sets the target from the environment (or keeps RT's); returns what RT had before
sub set_webhook {
    my $prev = load_webhook();
    if ($ENV{SEED_WEBHOOK} eq 'keep') {
        die "[seed-rt] ERROR: RELEASEDESK_WEBHOOK_SECRET is required: RT has no webhook target yet\n" unless $prev;
        say_("keeping webhook target " . ($prev->{url} || '(none)') . " (no RELEASEDESK_WEBHOOK_SECRET given)");
        return $prev;
    }
    my $want = {
        url     => $ENV{RELEASEDESK_WEBHOOK_URL},
        secret  => $ENV{RELEASEDESK_WEBHOOK_SECRET},
        timeout => 0 + $ENV{RELEASEDESK_WEBHOOK_TIMEOUT},
        field   => 'RepoAction',
    };
    my $json = JSON::PP->new->canonical;
    if (!$prev || $json->encode($prev) ne $json->encode($want)) {
        my ($ok, $msg) = RT->System->SetAttribute(
            Name => $WEBHOOK_ATTR, Description => 'releasedesk webhook target (seed-rt.sh)', Content => $want);
        ok_or_die($ok, $msg, "set attribute $WEBHOOK_ATTR");
        say_("webhook target: " . ($want->{url} || '(none)') . ", timeout $want->{timeout}s");
    }
    return $prev;
}

if ($ENV{SEED_MODE} eq 'webhook') {
    my $prev = set_webhook();
    print "WEBHOOK_PREVIOUS=", JSON::PP->new->canonical->encode($prev), "\n";
    exit 0;
}

# first, so that a seed that can neither keep nor set the target fails before changing anything
set_webhook();
my $webhook_url = load_webhook()->{url};

# ------------------------------------------------------------------ queue
my $queue = RT::Queue->new($SU);
$queue->Load($ENV{RT_QUEUE});
unless ($queue->Id) {
    my ($ok, $msg) = $queue->Create(Name => $ENV{RT_QUEUE}, Description => 'Software release requests (releasedesk)');
    ok_or_die($ok, $msg, "create queue $ENV{RT_QUEUE}");
    say_("created queue $ENV{RT_QUEUE} (id " . $queue->Id . ")");
}

# ---------------------------------------------------------- custom fields
my $lookup = RT::Ticket->CustomFieldLookupType;    # RT::Queue-RT::Ticket
sub ensure_cf {
    my (%a) = @_;
    my $cf = RT::CustomField->new($SU);
    $cf->LoadByName(Name => $a{Name}, LookupType => $lookup, IncludeDisabled => 0);
    unless ($cf->Id) {
        my ($ok, $msg) = $cf->Create(Name => $a{Name}, Type => $a{Type}, MaxValues => 1,
                                     LookupType => $lookup, Description => $a{Description});
        ok_or_die($ok, $msg, "create CF $a{Name}");
        say_("created custom field $a{Name} (id " . $cf->Id . ")");
    }
    if ($a{Values}) {
        my %have = map { $_->Name => 1 } @{ $cf->Values->ItemsArrayRef };
        my $i = 0;
        for my $v (@{ $a{Values} }) {
            $i++;
            next if $have{$v};
            my ($ok, $msg) = $cf->AddValue(Name => $v, SortOrder => $i);
            ok_or_die($ok, $msg, "add value $v to $a{Name}");
        }
    }
    unless ($cf->IsAdded($queue->Id)) {
        my ($ok, $msg) = $cf->AddToObject($queue);
        ok_or_die($ok, $msg, "apply CF $a{Name} to $ENV{RT_QUEUE}");
    }
    return $cf;
}
my $cf_action = ensure_cf(Name => 'RepoAction', Type => 'Select', Description => 'Requested repository action',
    Values => [qw(MoveToUnverified MoveToStageRollOut MoveToProduction Reject Deprecate)]);
my $cf_status = ensure_cf(Name => 'RepoStatus', Type => 'Select',
    Description => 'Repository state (written by releasedesk)',
    Values => [qw(Processing Unverified StageRollOut Production Incomplete Rejected Deprecated Failed)]);
my $cf_uri = ensure_cf(Name => 'RepoURI', Type => 'Freeform', Description => 'Where the release is published (written by releasedesk)');
my @all_cfs = ($cf_action, $cf_status, $cf_uri);

# --------------------------------------------------------- groups + users
my %groups;
for my $gname (qw(TechnologyUnit RolloutCoordinators SoftwareProviders)) {
    my $g = RT::Group->new($SU);
    $g->LoadUserDefinedGroup($gname);
    unless ($g->Id) {
        my ($ok, $msg) = $g->CreateUserDefinedGroup(Name => $gname, Description => "$gname (release workflow)");
        ok_or_die($ok, $msg, "create group $gname");
        say_("created group $gname (id " . $g->Id . ")");
    }
    $groups{$gname} = $g;
}
my %users = (
    tug1        => { Group => 'TechnologyUnit', Privileged => 1, Password => $ENV{TUG1_PASSWORD}, RealName => 'Technology Unit reviewer 1' },
    rollout1    => { Group => 'RolloutCoordinators', Privileged => 1, Password => $ENV{ROLLOUT1_PASSWORD}, RealName => 'Rollout coordinator 1' },
    provider1   => { Group => 'SoftwareProviders', Privileged => 0, Password => $ENV{PROVIDER1_PASSWORD}, RealName => 'Software provider 1' },
    releasedesk => { Privileged => 1, RealName => 'releasedesk service' },    # token only, no password
);
my %user;
for my $uname (sort keys %users) {
    my $spec = $users{$uname};
    my $u = RT::User->new($SU);
    $u->Load($uname);
    unless ($u->Id) {
        my ($ok, $msg) = $u->Create(Name => $uname, RealName => $spec->{RealName}, EmailAddress => "$uname\@localhost",
                                    Privileged => $spec->{Privileged}, ($spec->{Password} ? (Password => $spec->{Password}) : ()));
        ok_or_die($ok, $msg, "create user $uname");
        say_("created user $uname (id " . $u->Id . ")");
    }
    if ($spec->{Password} && !$u->IsPassword($spec->{Password})) {
        my ($ok, $msg) = $u->SetPassword($spec->{Password});
        ok_or_die($ok, $msg, "set password of $uname");
    }
    if (($u->Privileged ? 1 : 0) != $spec->{Privileged}) {
        my ($ok, $msg) = $u->SetPrivileged($spec->{Privileged});
        ok_or_die($ok, $msg, "set privileged=$spec->{Privileged} on $uname");
    }
    if (my $g = $spec->{Group} && $groups{ $spec->{Group} }) {
        unless ($g->HasMember($u->PrincipalObj)) {
            my ($ok, $msg) = $g->AddMember($u->PrincipalId);
            ok_or_die($ok, $msg, "add $uname to $spec->{Group}");
        }
    }
    $user{$uname} = $u;
}

# ----------------------------------------------------------------- rights
sub grant {
    my ($principal, $object, @rights) = @_;
    # ACL rows name a role group by its role (e.g. Requestor), a user by its ACL equivalence group
    my $ptype = $principal->IsUser ? 'User'
              : $principal->Object->Domain =~ /-Role$/ ? $principal->Object->Name : 'Group';
    for my $r (@rights) {
        my $acl = RT::ACE->new($SU);    # granted exactly here? (HasRight would also see inherited ones)
        $acl->LoadByValues(PrincipalId => $principal->Id, PrincipalType => $ptype, RightName => $r, Object => $object);
        next if $acl->Id;
        my ($ok, $msg) = $principal->GrantRight(Right => $r, Object => $object);
        ok_or_die($ok, $msg, "grant $r to principal " . $principal->Id);
    }
}
for my $gname (qw(TechnologyUnit RolloutCoordinators)) {
    my $p = $groups{$gname}->PrincipalObj;
    grant($p, $queue, qw(SeeQueue ShowTicket CreateTicket ModifyTicket CommentOnTicket ReplyToTicket
                         ShowTicketComments ShowOutgoingEmail));
    grant($p, $_, qw(SeeCustomField)) for @all_cfs;
    grant($p, $cf_action, qw(ModifyCustomField SetInitialCustomField));    # RepoStatus/RepoURI are the service's
    grant($p, RT->System, qw(ManageAuthTokens));
}
{   # providers: create tickets; see, comment on and set RepoAction of the tickets they requested
    my $p = $groups{SoftwareProviders}->PrincipalObj;
    grant($p, $queue, qw(SeeQueue CreateTicket));
    grant($p, $_, qw(SeeCustomField)) for @all_cfs;
    grant($p, $cf_action, qw(ModifyCustomField SetInitialCustomField));
    my $requestor = $queue->RoleGroup('Requestor', Create => 1);
    die "[seed-rt] ERROR: no Requestor role group on queue $ENV{RT_QUEUE}\n" unless $requestor->Id;
    grant($requestor->PrincipalObj, $queue, qw(ShowTicket CommentOnTicket ReplyToTicket ShowTicketComments));    # no ModifyTicket: RepoAction needs only the CF right
}
{   # the service user: read tickets, comment, write RepoStatus + RepoURI, read group membership
    my $p = $user{releasedesk}->PrincipalObj;
    grant($p, $queue, qw(SeeQueue ShowTicket ModifyTicket CommentOnTicket ShowTicketComments));
    grant($p, $_, qw(SeeCustomField)) for @all_cfs;
    grant($p, $_, qw(ModifyCustomField)) for $cf_status, $cf_uri;
    grant($p, $_, qw(SeeGroup)) for values %groups;    # GET /groups, /group/:id (Members)
    die "[seed-rt] ERROR: user releasedesk has SuperUser; revoke it (the service must not)\n"
        if $p->HasRight(Right => 'SuperUser', Object => RT->System);
}

# ----------------------------------------------------------------- tokens
my $desc = 'releasedesk seed';
my $cost = RT->Config->Get('BcryptCost');
for my $uname (qw(releasedesk provider1 tug1 rollout1 root)) {
    my $u = RT::User->new($SU);
    $u->Load($uname);
    die "[seed-rt] ERROR: user $uname missing\n" unless $u->Id;
    my $file = "$ENV{TOKEN_DIR}/$uname.token";
    my $have = '';
    if (-s $file) {
        open my $fh, '<', $file or die "[seed-rt] ERROR: $file: $!\n";
        chomp($have = <$fh> // '');
        close $fh;
        my ($tu, $tok) = RT::Authen::Token->UserForAuthString($have);
        if (!$tu || $tu->Id != $u->Id) {
            say_("token in $file is not valid for $uname: re-issuing");
            $have = '';
        } else {
            my (undef, undef, $tcost) = split /!/, ($tok->__Value('Token') // '');
            if (($tcost // 0) > $cost) {
                say_("token of $uname is hashed at bcrypt cost $tcost > configured $cost (slow): re-issuing");
                $have = '';
            }
        }
    }
    if (!$have) {
        my $tokens = RT::AuthTokens->new($SU);
        $tokens->LimitOwner(VALUE => $u->Id);
        $tokens->Limit(FIELD => 'Description', VALUE => $desc);
        $_->Delete for @{ $tokens->ItemsArrayRef };    # revoke what the seed issued before
        my $token = RT::AuthToken->new($SU);
        my ($ok, $msg, $authstring) = $token->Create(Owner => $u->Id, Description => $desc);
        ok_or_die($ok, $msg, "create token for $uname");
        my $old = umask 077;
        open my $fh, '>', "$file.tmp" or die "[seed-rt] ERROR: $file.tmp: $!\n";
        print $fh "$authstring\n";
        close $fh or die "[seed-rt] ERROR: $file.tmp: $!\n";
        rename "$file.tmp", $file or die "[seed-rt] ERROR: rename to $file: $!\n";
        umask $old;
        say_("issued REST2 token for $uname ($file)");
        $have = $authstring;
    }
    print "\U$uname\E_TOKEN=$have\n";
}

# ------------------------------------------------------------------ scrip
my $load_conf = <<'CODE';
my $attrs = RT::Attributes->new(RT->SystemUser);    # a fresh query: RT->System caches its attributes per process
$attrs->LimitToObject(RT->System);
$attrs->Limit(FIELD => 'Name', VALUE => 'ReleasedeskWebhook');
my $attr = $attrs->First;
my $conf = $attr ? $attr->Content : undef;
return 0 unless ref $conf eq 'HASH' && $conf->{url};
my $cf = RT::CustomField->new(RT->SystemUser);
$cf->LoadByName(Name => ($conf->{field} || 'RepoAction'), LookupType => RT::Ticket->CustomFieldLookupType);
return 0 unless $cf->Id;
my $txn = $self->TransactionObj;
CODE

my $is_applicable = <<'CODE' . $load_conf . <<'CODE2';
# releasedesk: fires when RepoAction changes, or when a ticket is created with it set.
# Target in the attribute ReleasedeskWebhook on RT->System (scripts/rt/seed-rt.sh).
CODE
return 1 if $txn->Type eq 'CustomField' && ($txn->Field || 0) == $cf->Id;
return 1 if $txn->Type eq 'Create' && defined $self->TicketObj->FirstCustomFieldValue($cf->Id);
return 0;
CODE2

my $commit = <<'CODE' . $load_conf . <<'CODE2';
# releasedesk: POSTs the change as JSON; X-RT-Signature: sha256=<hex HMAC-SHA256 of the raw body>.
require HTTP::Tiny;
require JSON::PP;
require Digest::SHA;
CODE
my $ticket = $self->TicketObj;
my $event  = $txn->Type eq 'Create' ? 'ticket.created' : 'customfield.changed';
my ($old, $new) = $txn->Type eq 'CustomField'
    ? ($txn->OldValue, $txn->NewValue)             # contents of the old/new ObjectCustomFieldValue
    : (undef, $ticket->FirstCustomFieldValue($cf->Id));
(my $rt_url = RT->Config->Get('WebURL')) =~ s{/+$}{};
my $body = JSON::PP->new->utf8->canonical->encode({
    event          => $event,
    ticket_id      => 0 + $ticket->Id,
    queue          => $ticket->QueueObj->Name,
    subject        => $ticket->Subject,
    transaction_id => 0 + $txn->Id,
    field          => $cf->Name,
    field_id       => 0 + $cf->Id,
    old_value      => (defined $old && length $old ? $old : undef),
    new_value      => (defined $new && length $new ? $new : undef),
    actor          => { id => 0 + $txn->Creator, name => $txn->CreatorObj->Name },
    created        => $txn->CreatedObj->W3CDTF,
    rt_url         => $rt_url,
});
my %headers = (
    'Content-Type'   => 'application/json',
    'X-RT-Event'     => $event,
    'X-RT-Delivery'  => $txn->Id,
    'X-RT-Signature' => 'sha256=' . Digest::SHA::hmac_sha256_hex($body, $conf->{secret} // ''),
);
my $res = HTTP::Tiny->new(timeout => ($conf->{timeout} || 5), agent => 'releasedesk-rt-webhook/1')
    ->post($conf->{url}, { headers => \%headers, content => $body });
if ($res->{success}) {
    RT->Logger->info("releasedesk webhook: txn " . $txn->Id . " -> $conf->{url}: $res->{status}");
} else {
    RT->Logger->error("releasedesk webhook: txn " . $txn->Id . " -> $conf->{url} failed: $res->{status} $res->{reason} "
        . substr($res->{content} // '', 0, 200));
}
return 1;    # never roll back the ticket change because of the receiver (the reconciler catches up)
CODE2

my $scrip_desc = 'Releasedesk: RepoAction webhook';
my $scrips = RT::Scrips->new($SU);
$scrips->Limit(FIELD => 'Description', VALUE => $scrip_desc);
my $scrip = $scrips->First;
if ($scrip) {
    for my $pair ([CustomIsApplicableCode => $is_applicable], [CustomCommitCode => $commit],
                  [CustomPrepareCode => 'return 1;']) {
        my ($col, $code) = @$pair;
        next if ($scrip->$col // '') eq $code;
        my $setter = "Set$col";
        my ($ok, $msg) = $scrip->$setter($code);
        ok_or_die($ok, $msg, "update scrip $col");
        say_("updated scrip code ($col)");
    }
    $scrip->SetDisabled(0) if $scrip->Disabled;
    unless ($scrip->IsAdded($queue->Id)) {
        my ($ok, $msg) = $scrip->AddToObject(ObjectId => $queue->Id);
        ok_or_die($ok, $msg, "add scrip to $ENV{RT_QUEUE}");
    }
} else {
    $scrip = RT::Scrip->new($SU);
    my ($ok, $msg) = $scrip->Create(
        Description => $scrip_desc, Queue => $queue->Id, Stage => 'TransactionCreate',
        ScripCondition => 'User Defined', ScripAction => 'User Defined', Template => 'Blank',
        CustomIsApplicableCode => $is_applicable, CustomPrepareCode => 'return 1;', CustomCommitCode => $commit);
    ok_or_die($ok, $msg, 'create scrip');
    say_("created scrip '$scrip_desc' (id " . $scrip->Id . ")");
}
{   # the shared recipe's scrip, if this database came from it, would post a second webhook
    my $other = RT::Scrips->new($SU);
    $other->Limit(FIELD => 'Description', VALUE => 'Helpdesk: RepoAction webhook');
    while (my $s = $other->Next) {
        next if $s->Disabled;
        $s->SetDisabled(1);
        say_("disabled the shared recipe's scrip " . $s->Id);
    }
}

print "QUEUE_ID=", $queue->Id, "\n";
print "CF_REPOACTION_ID=", $cf_action->Id, "\nCF_REPOSTATUS_ID=", $cf_status->Id, "\nCF_REPOURI_ID=", $cf_uri->Id, "\n";
print "GROUP_\U$_\E_ID=", $groups{$_}->Id, "\n" for sort keys %groups;
print "SCRIP_ID=", $scrip->Id, "\n";
print "WEBHOOK_URL=", ($webhook_url // ''), "\n";
PERL

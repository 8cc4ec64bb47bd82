# cx_retention: responses, journey events and the responses' alerts older
# than the retention are removed in the background (in the store's thread,
# a batch at a time); newer ones stay.  Times are set with cx_test_clock.
use strict;
use warnings;
use Test::More;
use CXTest;

plan skip_all => 'module not built' unless cx_have_module();

my $DAY = 86400;
my $now = time;

my $conf = <<'CONF';
    cx_store %%PREFIX%%/cxdata max_size=64m;
    cx_test_clock on;
    RETENTION
    cx_survey nps1 { type nps; question "Q?"; }
    cx_alert every_answer {
        when score<=10;
        notify http://127.0.0.1:9/nobody-listens secret=hook.key;
    }
    server {
        %%CX_SITE%%
        location / { cx_touchpoint browse; cx_prompt nps1; }
    }
CONF

(my $keep_all = $conf) =~ s/RETENTION//;
(my $keep_30d = $conf) =~ s/RETENTION/cx_retention 30d;/;

my $ng = cx_nginx(conf => $keep_all,
                  files => { 'html/index.html' => "<html><body>x</body></html>\n",
                             'conf/hook.key' => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n" });

sub answer_at {
    my ($t, $score) = @_;
    my @clock = ('X-CX-Test-Now' => $t);
    my $page = $ng->get('/index.html', @clock);
    my ($token) = $page->{body} =~ /"token":"([^"]*)"/ or return 0;
    my $cookie = cx_cookie_from($page, 'cx');
    my $res = $ng->post_json('/cx/r', qq({"token":"$token","event":"answer","score":$score}),
                             Cookie => "cx=$cookie", @clock);
    return $res->{status} == 204;
}

# alerts of every status (those of the past clock fail soon: their
# retry time is over at once)
sub alerts {
    my $r = $ng->get('/cx-admin/report.json');
    my ($counts) = $r->{body} =~ /"alerts":\{([^}]*)\}/ or return -1;
    my $n = 0;
    $n += $_ for $counts =~ /:(\d+)/g;
    return $n;
}

sub counts {
    my $r = $ng->get('/cx-admin/report.json');
    my ($answered) = $r->{body} =~ /"answered":(\d+)/;
    my ($visits) = $r->{body} =~ /"touchpoints":\[\{"name":"browse","stage":"","visits":(\d+)/;
    return ($answered // -1, $visits // 0);
}

ok answer_at($now - 400 * $DAY, 3), 'an answer 400 days ago';
ok answer_at($now - 100 * $DAY, 5), 'an answer 100 days ago';
ok answer_at($now - 10 * $DAY, 9), 'an answer 10 days ago';
ok answer_at($now, 10), 'an answer today';

my $ok = wait_for { (counts())[1] == 4 } 5;
ok $ok, 'four visits written';
is((counts())[0], 4, 'four answers stored');
is alerts(), 4, 'four alerts';

# without a retention nothing goes
$ng->restart;
sleep 1.5;
is((counts())[0], 4, 'no cx_retention: everything kept');

$ng->restart(conf => $keep_30d);
$ok = wait_for { (counts())[0] == 2 } 10;
ok $ok, 'cx_retention 30d: the two older answers are removed in the background';
my ($answered, $visits) = counts();
is $answered, 2, 'the answers of 10 days ago and today remain';
is $visits, 2, 'and only their visits';
is alerts(), 2, 'and only their alerts';
like $ng->error_log, qr/cx_store: retention removed \d+ old entries/, 'the log says what retention removed';

# pages and intake go on meanwhile
ok answer_at($now, 8), 'answers still stored after a retention pass';

done_testing;

# ngx_cx — the verbs people type: make, make demo, make test, make bench.
#
# The module is built with Debian's recipe for third-party modules: the
# nginx-dev source tree, configured with the exact flags of the installed
# nginx (conf_flags), and --add-dynamic-module pointing here.  The tree is
# copied under build/ so building never writes into /usr/share.

NGINX        ?= /usr/sbin/nginx
NGINX_SRC    ?= /usr/share/nginx/src
BUILD        := $(CURDIR)/build
OBJS         := $(BUILD)/objs
MODULE       := $(BUILD)/ngx_http_cx_module.so
CC           ?= cc

DEB_PACKAGES := nginx nginx-dev libluajit2-5.1-dev liblmdb-dev lmdb-utils \
                libcmocka-dev pkg-config gcc make perl wrk curl nodejs chromium \
                clickhouse-server

PURE_SRCS    := src/ngx_cx_scan.c src/ngx_cx_sha256.c src/ngx_cx_token.c \
                src/ngx_cx_json.c src/ngx_cx_record.c src/ngx_cx_score.c \
                src/ngx_cx_csp.c src/ngx_cx_export.c src/ngx_cx_number.c \
                src/ngx_cx_pattern.c src/ngx_cx_alert.c src/ngx_cx_rollup.c \
                src/ngx_cx_forward.c src/ngx_cx_color.c src/ngx_cx_device.c \
                src/ngx_cx_search.c
UNIT_TESTS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
UNIT_CFLAGS  := -std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror -Isrc \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer

MODULE_DEPS  := config ngx_cx_module.c $(wildcard src/*.c src/*.h) src/ngx_http_cx_widget.c \
                src/ngx_http_cx_dashboard.c

.PHONY: all deps module cxctl unit lua-test browser-deps alerts-deps test demo bench bench-deps clean widget embed \
        fuzz fuzz-deps fuzz-build fuzz-corpus asan asan-module

all: module cxctl

deps:
	@sh .ci/deps.sh $(DEB_PACKAGES)

module: $(MODULE)

# cxctl reads and maintains the store while nginx runs
CXCTL_SRCS   := $(wildcard src/cxctl/*.c) src/ngx_cx_record.c src/ngx_cx_score.c \
                src/ngx_cx_json.c src/ngx_cx_token.c src/ngx_cx_sha256.c \
                src/ngx_cx_export.c src/ngx_cx_alert.c src/ngx_cx_number.c \
                src/ngx_cx_rollup.c src/ngx_cx_forward.c src/ngx_cx_device.c

cxctl: $(BUILD)/cxctl

$(BUILD)/cxctl: $(CXCTL_SRCS) $(wildcard src/cxctl/*.h src/ngx_cx_*.h)
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -Isrc \
	    $(CXCTL_SRCS) -llmdb -o $@

# The widget and the dashboard ship inside the module, as C strings.
src/ngx_http_cx_widget.c: src/widget/w.js src/embed.sh src/minify.sh
	sh src/minify.sh src/widget/w.js | sh src/embed.sh - widget "the widget served at <cx_endpoint>w.js, through src/minify.sh" src/widget/w.js > $@.tmp && mv $@.tmp $@

src/ngx_http_cx_dashboard.c: src/dashboard/dashboard.html src/embed.sh
	sh src/embed.sh src/dashboard/dashboard.html dashboard "the dashboard served at <cx_report>" > $@.tmp && mv $@.tmp $@

embed: src/ngx_http_cx_widget.c src/ngx_http_cx_dashboard.c
widget: embed

$(OBJS)/Makefile: config
	rm -rf $(BUILD)/nginx-src $(OBJS)
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && bash -c '. ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --builddir=$(OBJS) \
	        --with-cc-opt="-g -O2 -fPIC -Wall -Wextra -Werror -Wno-unused-parameter" \
	        --add-dynamic-module=$(CURDIR)' > $(BUILD)/configure.log 2>&1 \
	    || { tail -30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(OBJS)/Makefile $(MODULE_DEPS)
	$(MAKE) -s -f $(OBJS)/Makefile -C $(BUILD)/nginx-src modules
	cp $(OBJS)/ngx_http_cx_module.so $@

$(BUILD)/unit/%: t/unit/%.c $(PURE_SRCS) $(wildcard src/ngx_cx_*.h t/unit/*.h)
	@mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) $< $(PURE_SRCS) -lcmocka -llmdb -lm -o $@

# the same targets by their relative names: make build/unit/test_scan
build/unit/%: $(BUILD)/unit/% ;
build/luarun: $(BUILD)/luarun ;

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "# $$t"; $$t; done

# the Lua helper library, tested in the same sandbox hooks run in
LUARUN_SRCS  := src/ngx_cx_number.c src/ngx_cx_pattern.c src/ngx_cx_lua_pattern.c \
                src/ngx_cx_lua_native.c src/ngx_cx_lua_bytes.c src/ngx_cx_lua_sandbox.c
$(BUILD)/luarun: t/lua/runner.c $(LUARUN_SRCS) $(LUARUN_SRCS:.c=.h)
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -Isrc \
	    $< $(LUARUN_SRCS) $$(pkg-config --cflags --libs luajit) -lm -o $@

lua-test: $(BUILD)/luarun
	@set -e; for t in t/lua/test_*.lua; do echo "# $$t"; \
	    $(BUILD)/luarun . $$t; done

# the browser tests' npm packages (playwright-core, axe-core); without them
# (no registry) t/80-widget-browser.t skips and says why
browser-deps:
	@[ -d t/browser/node_modules/playwright-core ] || \
	    (cd t/browser && npm ci --no-audit --no-fund --loglevel=error) || \
	    echo "ngx_cx: npm ci failed in t/browser: browser tests will skip"

# the alert tests' webhook receiver verifies signatures with the Standard
# Webhooks reference library (npm "standardwebhooks"); without it
# t/65-alerts.t skips and says why
alerts-deps:
	@[ -d t/alerts/node_modules/standardwebhooks ] || \
	    (cd t/alerts && npm ci --no-audit --no-fund --loglevel=error) || \
	    echo "ngx_cx: npm ci failed in t/alerts: alert tests will skip"

test: deps all unit lua-test browser-deps alerts-deps $(BUILD)/cxload $(BUILD)/mkstore
	@set -e; for t in t/widget/test_*.js; do node $$t; done
	prove -I t/lib t/

demo: deps all
	sh examples/demo/run.sh

# writes synthetic responses and journeys straight into a store, with the
# report rollups the module would keep, for bench/run
MKSTORE_SRCS := src/ngx_cx_record.c src/ngx_cx_rollup.c src/ngx_cx_score.c \
                src/ngx_cx_alert.c src/ngx_cx_number.c
$(BUILD)/mkstore: bench/mkstore.c $(MKSTORE_SRCS) $(wildcard src/ngx_cx_*.h)
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -Isrc \
	    bench/mkstore.c $(MKSTORE_SRCS) -llmdb -o $@

# the report rollups' cost to the commit path, at the LMDB level, for bench/run
$(BUILD)/rollupcost: bench/rollupcost.c $(MKSTORE_SRCS) $(wildcard src/ngx_cx_*.h)
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Werror -Isrc \
	    bench/rollupcost.c $(MKSTORE_SRCS) -llmdb -o $@

# interleaved load, for bench/run's goals: two servers a tenth of a second apart
$(BUILD)/cxload: bench/cxload.c bench/bench_util.h
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror bench/cxload.c -o $@

# closed-loop intake load with latency, and the same answers into
# PostgreSQL over libpq, for bench/run's intakepg step (bench/intake_pg.sh)
$(BUILD)/intakeload: bench/intakeload.c bench/bench_util.h
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror bench/intakeload.c -o $@

$(BUILD)/pgclient: bench/pgclient.c bench/bench_util.h
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror \
	    -I$$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql) \
	    bench/pgclient.c -lpq -o $@

# what only make bench needs: the database the intake is measured against
BENCH_PACKAGES := postgresql libpq-dev

bench-deps:
	@sh .ci/deps.sh $(BENCH_PACKAGES)

bench: deps bench-deps all $(BUILD)/mkstore $(BUILD)/rollupcost $(BUILD)/cxload \
       $(BUILD)/intakeload $(BUILD)/pgclient
	sh bench/run

# Fuzzing (t/fuzz/README.md): libFuzzer targets over the pure sources, each run
# for FUZZ_SECONDS from its seed corpus in t/fuzz/corpus/<target>/ (what it
# learns is kept under build/fuzz/corpus/), after replaying the inputs that
# once failed (t/fuzz/regress/<target>/); then the stream fuzzer sends random
# pages through a real nginx for FUZZ_STREAM_SECONDS. clang is needed here
# only, so it is not in DEB_PACKAGES. ASan's quarantine of freed memory is
# kept at 64 MB (fuzz_scan frees a piece a byte; at the default 256 MB the
# process passed 1 GB in minutes); set ASAN_OPTIONS to choose otherwise.
FUZZ_PACKAGES       := clang libclang-rt-14-dev
FUZZ_CC             ?= clang
FUZZ_SECONDS        ?= 30
FUZZ_STREAM_SECONDS ?= $(FUZZ_SECONDS)
FUZZ_TARGETS        := scan json token csp pattern
FUZZ_BINS           := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS         := -std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror -Isrc \
                       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                       -fno-omit-frame-pointer
# the pattern matcher is compared with LuaJIT's own
FUZZ_LIBS_pattern   := $(shell pkg-config --cflags --libs luajit 2>/dev/null)

fuzz-deps:
	@sh .ci/deps.sh $(FUZZ_PACKAGES)

$(BUILD)/fuzz/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz.h $(PURE_SRCS) $(wildcard src/ngx_cx_*.h)
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(PURE_SRCS) $(FUZZ_LIBS_$*) -llmdb -lm -o $@

fuzz-build: fuzz-deps $(FUZZ_BINS)

fuzz: deps fuzz-build module
	@set -e; for t in $(FUZZ_TARGETS); do \
	    bin=$(BUILD)/fuzz/fuzz_$$t; \
	    if [ -n "$$(ls t/fuzz/regress/$$t 2>/dev/null)" ]; then \
	        echo "# fuzz_$$t: replaying t/fuzz/regress/$$t"; \
	        $$bin t/fuzz/regress/$$t/* >$(BUILD)/fuzz/$$t-regress.log 2>&1 \
	            || { tail -40 $(BUILD)/fuzz/$$t-regress.log; exit 1; }; \
	    fi; \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	    echo "# fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    ASAN_OPTIONS=$${ASAN_OPTIONS:-quarantine_size_mb=64} \
	    $$bin -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	        $$([ -f t/fuzz/$$t.dict ] && echo -dict=t/fuzz/$$t.dict) \
	        $(BUILD)/fuzz/corpus/$$t t/fuzz/corpus/$$t >$(BUILD)/fuzz/$$t.log 2>&1 \
	        || { tail -60 $(BUILD)/fuzz/$$t.log; \
	             echo "fuzz_$$t failed: the input is $(BUILD)/fuzz/$$t-crash-* (or -timeout-, -oom-);"; \
	             echo "replay with $$bin FILE; once fixed, keep it in t/fuzz/regress/$$t/"; exit 1; }; \
	    grep -h 'stat::number_of_executed_units\|stat::new_units_added' $(BUILD)/fuzz/$$t.log \
	        | sed 's/^/    /'; \
	done
	CX_FUZZ_SECONDS=$(FUZZ_STREAM_SECONDS) perl t/fuzz/stream.pl

# merges what the fuzzers learnt into the committed seed corpora (smallest
# set of inputs that keeps the coverage); review before committing
fuzz-corpus: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	    $(BUILD)/fuzz/fuzz_$$t -merge=1 t/fuzz/corpus/$$t $(BUILD)/fuzz/corpus/$$t \
	        >$(BUILD)/fuzz/$$t-merge.log 2>&1 || { tail -20 $(BUILD)/fuzz/$$t-merge.log; exit 1; }; \
	    echo "t/fuzz/corpus/$$t: $$(ls t/fuzz/corpus/$$t | wc -l) inputs"; \
	done

# The module under AddressSanitizer/UBSan: the same build in build-asan/ (its
# own copy of the nginx tree and objs), then the integration suite against it.
# Only nginx runs with the sanitizer runtime preloaded (CX_NGINX_ENV, see
# t/lib/CXTest.pm): perl, curl and node do not. Workers are forked, not
# exec'd, so they keep the preload although nginx cleans their environment.
# Any report file in build-asan/reports/ fails the run (the directory is
# world-writable: workers run as nginx's unprivileged user). UBSan's errors
# stop the worker (the tests fail) but are not written there: its runtime
# reads UBSAN_OPTIONS only at its first report, in a worker whose
# environment nginx has cleaned, so they go to that test's error log.
# Leak detection is off (not yet tried on): nginx leaves its pools and cycle
# to exit(). The suite's timing bounds hold under ASan as they are (about
# 2.5 min in all); CX_ASAN=1 lets t/61 skip its RSS bound (the quarantine keeps freed
# memory).
ASAN_BUILD   := $(CURDIR)/build-asan
ASAN_OBJS    := $(ASAN_BUILD)/objs
ASAN_MODULE  := $(ASAN_BUILD)/ngx_http_cx_module.so
ASAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_REPORTS := $(ASAN_BUILD)/reports
ASAN_RUNTIME  = $(shell $(CC) -print-file-name=libasan.so):$(shell $(CC) -print-file-name=libubsan.so)
ASAN_OPTS    := halt_on_error=1:abort_on_error=0:detect_leaks=0:log_path=$(ASAN_REPORTS)/asan
ASAN_TESTS   ?= t/
UBSAN_OPTS   := halt_on_error=1:print_stacktrace=1:log_path=$(ASAN_REPORTS)/ubsan

$(ASAN_OBJS)/Makefile: config
	rm -rf $(ASAN_BUILD)/nginx-src $(ASAN_OBJS)
	mkdir -p $(ASAN_BUILD)
	cp -r $(NGINX_SRC) $(ASAN_BUILD)/nginx-src
	cd $(ASAN_BUILD)/nginx-src && bash -c '. ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --builddir=$(ASAN_OBJS) \
	        --with-cc-opt="-g -O1 -fPIC -Wall -Wextra -Werror -Wno-unused-parameter $(ASAN_FLAGS)" \
	        --with-ld-opt="-fsanitize=address,undefined" \
	        --add-dynamic-module=$(CURDIR)' > $(ASAN_BUILD)/configure.log 2>&1 \
	    || { tail -30 $(ASAN_BUILD)/configure.log; exit 1; }

$(ASAN_MODULE): $(ASAN_OBJS)/Makefile $(MODULE_DEPS)
	$(MAKE) -s -f $(ASAN_OBJS)/Makefile -C $(ASAN_BUILD)/nginx-src modules
	cp $(ASAN_OBJS)/ngx_http_cx_module.so $@

asan-module: $(ASAN_MODULE)

asan: deps all asan-module browser-deps alerts-deps $(BUILD)/cxload $(BUILD)/luarun
	@rm -rf $(ASAN_REPORTS); mkdir -p -m 1777 $(ASAN_REPORTS)
	@echo "# nginx preloads $(ASAN_RUNTIME)"
	@status=0; \
	CX_MODULE=$(ASAN_MODULE) CX_ASAN=1 \
	CX_NGINX_ENV="LD_PRELOAD=$(ASAN_RUNTIME) ASAN_OPTIONS=$(ASAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS)" \
	    prove -I t/lib $(ASAN_TESTS) || status=$$?; \
	if [ -n "$$(ls $(ASAN_REPORTS))" ]; then \
	    for f in $$(ls $(ASAN_REPORTS)/* | head -3); do echo "=== $$f"; head -40 $$f; done; \
	    echo "=== every report's summary, by count:"; \
	    cat $(ASAN_REPORTS)/* | grep -h 'SUMMARY\|runtime error' | sort | uniq -c | sort -rn | head -20; \
	    echo "make asan: $$(ls $(ASAN_REPORTS) | wc -l) sanitizer reports in $(ASAN_REPORTS)"; exit 1; \
	fi; \
	exit $$status

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# make install (as root) and make uninstall: Debian's layout for nginx
# modules, as the libnginx-mod-* packages have it. The module goes to
# nginx's --modules-path, its load_module line to modules-available as
# mod-http-cx.conf, enabled by the link 50-mod-http-cx.conf in
# modules-enabled (which Debian's nginx.conf includes); the link points at
# the absolute path, as dh_nginx makes it. cxctl and the Lua helper library
# are not nginx's to place: they go under PREFIX, /usr/local for an install
# from source (a package would say PREFIX=/usr). DESTDIR stages the whole tree
# elsewhere (t/08-install.t); the paths written into the files never have it.
#
# The installed module is the build's module with one difference: the Lua
# library's directory baked in (NGX_HTTP_CX_LUA_DIR, the tree's lua/ in
# build/) is CX_LUA_DIR. build/install/objs is a copy of build/objs with that
# define changed in ngx_auto_config.h (its time kept) and the one object that
# uses it removed, so only ngx_http_cx_lua_conf.c is compiled again; t/08
# checks that the tree's path is nowhere in the installed .so. `make` builds
# it too, so that `make install` as root only copies. Give make the same
# variables as make install, or install builds again.
#
# make uninstall removes the files and the link install made (the link only
# while it is one), then the directories that are ngx_cx's own
# (CX_DATADIR and below) and, when empty, the two that on Debian only module
# packages have (modules-available, and the modules directory with its
# parent /usr/lib/nginx), as dpkg would; modules-enabled and the bin
# directory are left.
PREFIX                  ?= /usr/local
BINDIR                  ?= $(PREFIX)/bin
CX_DATADIR              ?= $(PREFIX)/share/ngx_cx
CX_LUA_DIR              ?= $(CX_DATADIR)/lua
NGINX_MODULES_DIR       ?= /usr/lib/nginx/modules
NGINX_MODULES_AVAILABLE ?= /usr/share/nginx/modules-available
NGINX_MODULES_ENABLED   ?= /etc/nginx/modules-enabled
CX_MODULE_CONF          := mod-http-cx.conf
CX_MODULE_LINK          := 50-mod-http-cx.conf

INSTALL_BUILD  := $(BUILD)/install
INSTALL_OBJS   := $(INSTALL_BUILD)/objs
INSTALL_MODULE := $(INSTALL_BUILD)/ngx_http_cx_module.so
CX_LUA_FILES   := $(patsubst lua/%,%,$(shell find lua -type f -name '*.lua' | LC_ALL=C sort))
CX_LUA_SUBDIRS := $(shell find lua -mindepth 1 -type d | LC_ALL=C sort -r | sed 's|^lua/||')

.PHONY: install uninstall install-build install-paths

all: install-build

install-build: $(INSTALL_MODULE) $(INSTALL_BUILD)/$(CX_MODULE_CONF) $(BUILD)/cxctl

# the paths the installed files name, rewritten only when they change
$(INSTALL_BUILD)/paths: install-paths
	@mkdir -p $(INSTALL_BUILD)
	@printf 'CX_LUA_DIR=%s\nNGINX_MODULES_DIR=%s\n' '$(CX_LUA_DIR)' '$(NGINX_MODULES_DIR)' \
	    | cmp -s - $@ || printf 'CX_LUA_DIR=%s\nNGINX_MODULES_DIR=%s\n' \
	        '$(CX_LUA_DIR)' '$(NGINX_MODULES_DIR)' > $@

$(INSTALL_OBJS)/Makefile: $(MODULE) $(INSTALL_BUILD)/paths
	rm -rf $(INSTALL_OBJS)
	cp -a $(OBJS) $(INSTALL_OBJS)
	sed -i 's|$(OBJS)|$(INSTALL_OBJS)|g' $(INSTALL_OBJS)/Makefile
	sed -i 's|^#define NGX_HTTP_CX_LUA_DIR .*|#define NGX_HTTP_CX_LUA_DIR  "$(CX_LUA_DIR)"|' \
	    $(INSTALL_OBJS)/ngx_auto_config.h
	grep -q '^#define NGX_HTTP_CX_LUA_DIR  "$(CX_LUA_DIR)"$$' $(INSTALL_OBJS)/ngx_auto_config.h
	touch -r $(OBJS)/ngx_auto_config.h $(INSTALL_OBJS)/ngx_auto_config.h
	rm -f $(INSTALL_OBJS)/addon/src/ngx_http_cx_lua_conf.o $(INSTALL_OBJS)/ngx_http_cx_module.so

$(INSTALL_MODULE): $(INSTALL_OBJS)/Makefile
	$(MAKE) -s -f $(INSTALL_OBJS)/Makefile -C $(BUILD)/nginx-src modules
	cp $(INSTALL_OBJS)/ngx_http_cx_module.so $@

$(INSTALL_BUILD)/$(CX_MODULE_CONF): $(INSTALL_BUILD)/paths
	printf 'load_module %s;\n' '$(NGINX_MODULES_DIR)/ngx_http_cx_module.so' > $@

install: install-build
	install -D -m 644 $(INSTALL_MODULE) $(DESTDIR)$(NGINX_MODULES_DIR)/ngx_http_cx_module.so
	install -D -m 644 $(INSTALL_BUILD)/$(CX_MODULE_CONF) \
	    $(DESTDIR)$(NGINX_MODULES_AVAILABLE)/$(CX_MODULE_CONF)
	install -d -m 755 $(DESTDIR)$(NGINX_MODULES_ENABLED)
	ln -sf $(NGINX_MODULES_AVAILABLE)/$(CX_MODULE_CONF) \
	    $(DESTDIR)$(NGINX_MODULES_ENABLED)/$(CX_MODULE_LINK)
	install -D -m 755 $(BUILD)/cxctl $(DESTDIR)$(BINDIR)/cxctl
	@set -e; for f in $(CX_LUA_FILES); do \
	    echo "install -D -m 644 lua/$$f $(DESTDIR)$(CX_LUA_DIR)/$$f"; \
	    install -D -m 644 lua/$$f $(DESTDIR)$(CX_LUA_DIR)/$$f; \
	done

uninstall:
	rm -f $(DESTDIR)$(NGINX_MODULES_DIR)/ngx_http_cx_module.so \
	    $(DESTDIR)$(NGINX_MODULES_AVAILABLE)/$(CX_MODULE_CONF) \
	    $(DESTDIR)$(BINDIR)/cxctl \
	    $(addprefix $(DESTDIR)$(CX_LUA_DIR)/,$(CX_LUA_FILES))
	if [ -L $(DESTDIR)$(NGINX_MODULES_ENABLED)/$(CX_MODULE_LINK) ]; then \
	    rm -f $(DESTDIR)$(NGINX_MODULES_ENABLED)/$(CX_MODULE_LINK); fi
	for d in $(addprefix $(DESTDIR)$(CX_LUA_DIR)/,$(CX_LUA_SUBDIRS)) \
	         $(DESTDIR)$(CX_LUA_DIR) $(DESTDIR)$(CX_DATADIR) \
	         $(DESTDIR)$(NGINX_MODULES_AVAILABLE) \
	         $(DESTDIR)$(NGINX_MODULES_DIR) $(DESTDIR)$(patsubst %/,%,$(dir $(NGINX_MODULES_DIR))); do \
	    [ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; done

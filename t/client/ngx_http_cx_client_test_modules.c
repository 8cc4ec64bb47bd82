
/* The module list of the test module's .so (what configure would write). */

#include <ngx_config.h>
#include <ngx_core.h>


extern ngx_module_t  ngx_http_cx_client_test_module;

ngx_module_t *ngx_modules[] = {
    &ngx_http_cx_client_test_module,
    NULL
};

char *ngx_module_names[] = {
    "ngx_http_cx_client_test_module",
    NULL
};

char *ngx_module_order[] = {
    NULL
};

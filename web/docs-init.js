// GET /docs: Redoc renders the gateway's own /openapi.yaml (same origin, the
// copy compiled into the binary). Nothing is loaded from another host.
'use strict';
Redoc.init('/openapi.yaml', {
  expandResponses: '200,201',
  hideHostname: false,
  jsonSampleExpandLevel: 2,
  nativeScrollbars: true,
}, document.getElementById('redoc'));

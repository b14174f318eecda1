{
  "targets": [
    {
      "target_name": "esmselect_native",
      "sources": [
        "native/addon.cc",
        "native/gemm.cc",
        "native/spectra.cc",
        "native/target.cc",
        "native/tridiagonal.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a call that completes after its worker thread was
      # terminated drops its result instead of aborting the process (node-addon-api rethrows the
      # error it can no longer hand to JavaScript; test/native/native-threads.test.ts).
      "defines": ["NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-march=native", "-ffp-contract=fast", "-fexceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mcpu=native", "-ffp-contract=fast"]
      }
    }
  ]
}

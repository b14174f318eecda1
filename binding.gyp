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
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
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

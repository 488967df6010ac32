{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 5,
   "revision": 0,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   60.0,
   60.0,
   1100.0,
   880.0
  ],
  "bglocked": 0,
  "openinpresentation": 0,
  "default_fontsize": 12.0,
  "default_fontface": 0,
  "default_fontname": "Arial",
  "gridonopen": 1,
  "gridsize": [
   15.0,
   15.0
  ],
  "boxes": [
   {
    "box": {
     "id": "obj-1",
     "maxclass": "comment",
     "patching_rect": [
      20,
      10,
      600,
      22
     ],
     "text": "caminos: start the engine with `caminos play` (OSC on 127.0.0.1:9000); replies come back on 9001.",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-2",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      700,
      160,
      22
     ],
     "text": "udpsend 127.0.0.1 9000",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-3",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      670,
      80,
      22
     ],
     "text": "r caminos",
     "numinlets": 0,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "newobj",
     "patching_rect": [
      400,
      40,
      70,
      22
     ],
     "text": "loadbang",
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-5",
     "maxclass": "message",
     "patching_rect": [
      400,
      70,
      150,
      22
     ],
     "text": "/osc/reply_port 9001",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-6",
     "maxclass": "newobj",
     "patching_rect": [
      400,
      560,
      120,
      22
     ],
     "text": "udpreceive 9001",
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "newobj",
     "patching_rect": [
      400,
      590,
      260,
      22
     ],
     "text": "route /engine/status /error /engine/get",
     "numinlets": 1,
     "numoutlets": 4
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "newobj",
     "patching_rect": [
      400,
      620,
      80,
      22
     ],
     "text": "zl.iter 2",
     "numinlets": 2,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-9",
     "maxclass": "newobj",
     "patching_rect": [
      400,
      650,
      330,
      22
     ],
     "text": "route cpu_load xruns hop control_errors path_position",
     "numinlets": 1,
     "numoutlets": 6
    }
   },
   {
    "box": {
     "id": "obj-10",
     "maxclass": "flonum",
     "patching_rect": [
      400,
      680,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-11",
     "maxclass": "flonum",
     "patching_rect": [
      465,
      680,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-12",
     "maxclass": "flonum",
     "patching_rect": [
      530,
      680,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-13",
     "maxclass": "flonum",
     "patching_rect": [
      595,
      680,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-14",
     "maxclass": "flonum",
     "patching_rect": [
      660,
      680,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-15",
     "maxclass": "newobj",
     "patching_rect": [
      560,
      620,
      140,
      22
     ],
     "text": "print caminos-error",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-16",
     "maxclass": "newobj",
     "patching_rect": [
      720,
      620,
      130,
      22
     ],
     "text": "print caminos-get",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-17",
     "maxclass": "toggle",
     "patching_rect": [
      400,
      500,
      20,
      20
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-18",
     "maxclass": "newobj",
     "patching_rect": [
      430,
      500,
      80,
      22
     ],
     "text": "metro 1000",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-19",
     "maxclass": "message",
     "patching_rect": [
      520,
      500,
      110,
      22
     ],
     "text": "/engine/status",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-20",
     "maxclass": "comment",
     "patching_rect": [
      400,
      478,
      200,
      22
     ],
     "text": "status every second",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-21",
     "maxclass": "comment",
     "patching_rect": [
      20,
      40,
      200,
      22
     ],
     "text": "2-D map (/latent/xy)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-22",
     "maxclass": "pictslider",
     "patching_rect": [
      20,
      60,
      150,
      150
     ],
     "numinlets": 2,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-23",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      220,
      110,
      22
     ],
     "text": "scale 0 127 0. 1.",
     "numinlets": 6,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-24",
     "maxclass": "newobj",
     "patching_rect": [
      140,
      220,
      110,
      22
     ],
     "text": "scale 0 127 1. 0.",
     "numinlets": 6,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-25",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      250,
      80,
      22
     ],
     "text": "pack 0. 0.",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-26",
     "maxclass": "newobj",
     "patching_rect": [
      140,
      250,
      50,
      22
     ],
     "text": "t b f",
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-27",
     "maxclass": "message",
     "patching_rect": [
      20,
      280,
      130,
      22
     ],
     "text": "/latent/xy $1 $2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-28",
     "maxclass": "message",
     "patching_rect": [
      180,
      60,
      130,
      22
     ],
     "text": "/latent/plane/axes",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-29",
     "maxclass": "comment",
     "patching_rect": [
      200,
      100,
      200,
      22
     ],
     "text": "latent axes 0-3 (std)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-30",
     "maxclass": "slider",
     "patching_rect": [
      200,
      120,
      30,
      100
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 6.0,
     "min": -3.0
    }
   },
   {
    "box": {
     "id": "obj-31",
     "maxclass": "message",
     "patching_rect": [
      200,
      230,
      130,
      22
     ],
     "text": "/latent/axis 0 $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-32",
     "maxclass": "slider",
     "patching_rect": [
      240,
      120,
      30,
      100
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 6.0,
     "min": -3.0
    }
   },
   {
    "box": {
     "id": "obj-33",
     "maxclass": "message",
     "patching_rect": [
      240,
      252,
      130,
      22
     ],
     "text": "/latent/axis 1 $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-34",
     "maxclass": "slider",
     "patching_rect": [
      280,
      120,
      30,
      100
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 6.0,
     "min": -3.0
    }
   },
   {
    "box": {
     "id": "obj-35",
     "maxclass": "message",
     "patching_rect": [
      280,
      274,
      130,
      22
     ],
     "text": "/latent/axis 2 $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-36",
     "maxclass": "slider",
     "patching_rect": [
      320,
      120,
      30,
      100
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 6.0,
     "min": -3.0
    }
   },
   {
    "box": {
     "id": "obj-37",
     "maxclass": "message",
     "patching_rect": [
      320,
      296,
      130,
      22
     ],
     "text": "/latent/axis 3 $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-38",
     "maxclass": "comment",
     "patching_rect": [
      20,
      330,
      300,
      22
     ],
     "text": "follow: 0 path / map only, 1 sources only",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-39",
     "maxclass": "slider",
     "patching_rect": [
      20,
      350,
      150,
      20
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 1.0,
     "min": 0.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-40",
     "maxclass": "message",
     "patching_rect": [
      180,
      350,
      130,
      22
     ],
     "text": "/latent/follow $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-41",
     "maxclass": "comment",
     "patching_rect": [
      20,
      390,
      200,
      22
     ],
     "text": "path transport",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-42",
     "maxclass": "message",
     "patching_rect": [
      20,
      410,
      360,
      22
     ],
     "text": "/path/new walk, /path/step 2, /path/point walk 0 0, /path/point walk 2 -1, /path/point walk -1 1.5, /path/point walk 0 0",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-43",
     "maxclass": "message",
     "patching_rect": [
      20,
      440,
      220,
      22
     ],
     "text": "/latent/follow 0, /path/play walk",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-44",
     "maxclass": "message",
     "patching_rect": [
      250,
      440,
      80,
      22
     ],
     "text": "/path/stop",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-45",
     "maxclass": "flonum",
     "patching_rect": [
      20,
      470,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-46",
     "maxclass": "message",
     "patching_rect": [
      90,
      470,
      110,
      22
     ],
     "text": "/path/speed $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-47",
     "maxclass": "message",
     "patching_rect": [
      210,
      500,
      85,
      22
     ],
     "text": "/path/loop 0",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-48",
     "maxclass": "message",
     "patching_rect": [
      300,
      500,
      85,
      22
     ],
     "text": "/path/loop 1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-49",
     "maxclass": "message",
     "patching_rect": [
      390,
      500,
      85,
      22
     ],
     "text": "/path/loop 2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-50",
     "maxclass": "message",
     "patching_rect": [
      20,
      530,
      125,
      22
     ],
     "text": "/path/interp linear",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-51",
     "maxclass": "message",
     "patching_rect": [
      160,
      530,
      125,
      22
     ],
     "text": "/path/interp cubic",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-52",
     "maxclass": "message",
     "patching_rect": [
      290,
      530,
      125,
      22
     ],
     "text": "/path/interp spherical",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-53",
     "maxclass": "message",
     "patching_rect": [
      20,
      560,
      140,
      22
     ],
     "text": "/path/record gesture",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-54",
     "maxclass": "message",
     "patching_rect": [
      170,
      560,
      120,
      22
     ],
     "text": "/path/record/stop",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-55",
     "maxclass": "comment",
     "patching_rect": [
      700,
      40,
      300,
      22
     ],
     "text": "scenes: store / recall with a 2 s crossfade",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-56",
     "maxclass": "message",
     "patching_rect": [
      700,
      60,
      100,
      22
     ],
     "text": "/scene/store 0",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-57",
     "maxclass": "message",
     "patching_rect": [
      810,
      60,
      120,
      22
     ],
     "text": "/scene/recall 0 2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-58",
     "maxclass": "message",
     "patching_rect": [
      700,
      86,
      100,
      22
     ],
     "text": "/scene/store 1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-59",
     "maxclass": "message",
     "patching_rect": [
      810,
      86,
      120,
      22
     ],
     "text": "/scene/recall 1 2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-60",
     "maxclass": "message",
     "patching_rect": [
      700,
      112,
      100,
      22
     ],
     "text": "/scene/store 2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-61",
     "maxclass": "message",
     "patching_rect": [
      810,
      112,
      120,
      22
     ],
     "text": "/scene/recall 2 2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-62",
     "maxclass": "message",
     "patching_rect": [
      700,
      138,
      100,
      22
     ],
     "text": "/scene/store 3",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-63",
     "maxclass": "message",
     "patching_rect": [
      810,
      138,
      120,
      22
     ],
     "text": "/scene/recall 3 2",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-64",
     "maxclass": "comment",
     "patching_rect": [
      700,
      180,
      300,
      22
     ],
     "text": "voice (when the voice model is attached)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-65",
     "maxclass": "message",
     "patching_rect": [
      700,
      200,
      150,
      22
     ],
     "text": "/voice/say caminante",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-66",
     "maxclass": "message",
     "patching_rect": [
      860,
      200,
      100,
      22
     ],
     "text": "/voice/babble 4",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-67",
     "maxclass": "message",
     "patching_rect": [
      970,
      200,
      80,
      22
     ],
     "text": "/voice/stop",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-68",
     "maxclass": "flonum",
     "patching_rect": [
      700,
      230,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-69",
     "maxclass": "message",
     "patching_rect": [
      770,
      230,
      110,
      22
     ],
     "text": "/voice/pitch $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-70",
     "maxclass": "flonum",
     "patching_rect": [
      700,
      260,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-71",
     "maxclass": "message",
     "patching_rect": [
      770,
      260,
      110,
      22
     ],
     "text": "/voice/gain $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-72",
     "maxclass": "flonum",
     "patching_rect": [
      700,
      300,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-73",
     "maxclass": "message",
     "patching_rect": [
      770,
      300,
      110,
      22
     ],
     "text": "/out/gain $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-pitch-label",
     "maxclass": "comment",
     "patching_rect": [
      340,
      330,
      300,
      22
     ],
     "text": "pitch: transpose, semitones (model with pitch)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-pitch-slider",
     "maxclass": "slider",
     "patching_rect": [
      340,
      350,
      150,
      20
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 24.0,
     "min": -12.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-pitch-message",
     "maxclass": "message",
     "patching_rect": [
      500,
      350,
      130,
      22
     ],
     "text": "/latent/pitch $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-texture-label",
     "maxclass": "comment",
     "patching_rect": [
      340,
      380,
      300,
      22
     ],
     "text": "texture: 0 the model alone, 1 the sources' grain",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-texture-slider",
     "maxclass": "slider",
     "patching_rect": [
      340,
      400,
      150,
      20
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 1.0,
     "min": 0.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-texture-message",
     "maxclass": "message",
     "patching_rect": [
      500,
      400,
      130,
      22
     ],
     "text": "/latent/texture $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-pitches-label",
     "maxclass": "comment",
     "patching_rect": [
      20,
      740,
      300,
      22
     ],
     "text": "pitches: pitch slots drawn (a model with several)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-pitches-number",
     "maxclass": "number",
     "patching_rect": [
      20,
      762,
      50,
      22
     ],
     "parameter_enable": 0,
     "minimum": 1,
     "maximum": 4,
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-pitches-message",
     "maxclass": "message",
     "patching_rect": [
      80,
      762,
      130,
      22
     ],
     "text": "/latent/pitches $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-chord-label",
     "maxclass": "comment",
     "patching_rect": [
      20,
      792,
      560,
      22
     ],
     "text": "chord: the strongest pitch again, semitones above it (model with pitch): none, major, minor, fifth, octave",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-chord-none",
     "maxclass": "message",
     "patching_rect": [
      20,
      814,
      100,
      22
     ],
     "text": "/latent/chord 0",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-chord-major",
     "maxclass": "message",
     "patching_rect": [
      125,
      814,
      110,
      22
     ],
     "text": "/latent/chord 4 7",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-chord-minor",
     "maxclass": "message",
     "patching_rect": [
      240,
      814,
      110,
      22
     ],
     "text": "/latent/chord 3 7",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-chord-fifth",
     "maxclass": "message",
     "patching_rect": [
      355,
      814,
      100,
      22
     ],
     "text": "/latent/chord 7",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-chord-octave",
     "maxclass": "message",
     "patching_rect": [
      460,
      814,
      105,
      22
     ],
     "text": "/latent/chord 12",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-label",
     "maxclass": "comment",
     "patching_rect": [
      700,
      340,
      380,
      22
     ],
     "text": "field of voices (not with mono): spread std, rotate deg, spin deg/s, wander std, decorrelate",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-field-spread-slider",
     "maxclass": "slider",
     "patching_rect": [
      700,
      362,
      150,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 8.0,
     "min": 0.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-spread-message",
     "maxclass": "message",
     "patching_rect": [
      860,
      362,
      170,
      22
     ],
     "text": "/field/spread $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-rotate-slider",
     "maxclass": "slider",
     "patching_rect": [
      700,
      388,
      150,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 360.0,
     "min": -180.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-rotate-message",
     "maxclass": "message",
     "patching_rect": [
      860,
      388,
      170,
      22
     ],
     "text": "/field/rotate $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-spin-slider",
     "maxclass": "slider",
     "patching_rect": [
      700,
      414,
      150,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 180.0,
     "min": -90.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-spin-message",
     "maxclass": "message",
     "patching_rect": [
      860,
      414,
      170,
      22
     ],
     "text": "/field/spin $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-wander-slider",
     "maxclass": "slider",
     "patching_rect": [
      700,
      440,
      150,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 2.0,
     "min": 0.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-wander-message",
     "maxclass": "message",
     "patching_rect": [
      860,
      440,
      170,
      22
     ],
     "text": "/field/wander $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-decorrelate-slider",
     "maxclass": "slider",
     "patching_rect": [
      700,
      466,
      150,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 1.0,
     "min": 0.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-field-decorrelate-message",
     "maxclass": "message",
     "patching_rect": [
      860,
      466,
      170,
      22
     ],
     "text": "/field/decorrelate $1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-label",
     "maxclass": "comment",
     "patching_rect": [
      750,
      500,
      340,
      22
     ],
     "text": "channel (from 1), then its gain, mute and xy (std)",
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-channel-loadmess",
     "maxclass": "newobj",
     "patching_rect": [
      750,
      525,
      75,
      22
     ],
     "text": "loadmess 1",
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-number",
     "maxclass": "number",
     "patching_rect": [
      750,
      552,
      50,
      22
     ],
     "parameter_enable": 0,
     "minimum": 1,
     "maximum": 64,
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-channel-gain-i",
     "maxclass": "newobj",
     "patching_rect": [
      900,
      610,
      40,
      22
     ],
     "text": "i 1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-gain-sprintf",
     "maxclass": "newobj",
     "patching_rect": [
      900,
      635,
      190,
      22
     ],
     "text": "sprintf /channel/%ld/gain %f",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-mute-i",
     "maxclass": "newobj",
     "patching_rect": [
      900,
      685,
      40,
      22
     ],
     "text": "i 1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-mute-sprintf",
     "maxclass": "newobj",
     "patching_rect": [
      900,
      710,
      190,
      22
     ],
     "text": "sprintf /channel/%ld/mute %ld",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-xy-i",
     "maxclass": "newobj",
     "patching_rect": [
      900,
      740,
      40,
      22
     ],
     "text": "i 1",
     "numinlets": 2,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-xy-sprintf",
     "maxclass": "newobj",
     "patching_rect": [
      900,
      767,
      190,
      22
     ],
     "text": "sprintf /channel/%ld/xy %f %f",
     "numinlets": 3,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-gain-slider",
     "maxclass": "slider",
     "patching_rect": [
      750,
      585,
      140,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 4.0,
     "min": 0.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-gain-t",
     "maxclass": "newobj",
     "patching_rect": [
      750,
      610,
      50,
      22
     ],
     "text": "t b f",
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-channel-mute-toggle",
     "maxclass": "toggle",
     "patching_rect": [
      750,
      660,
      20,
      20
     ],
     "parameter_enable": 0,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-mute-t",
     "maxclass": "newobj",
     "patching_rect": [
      750,
      685,
      50,
      22
     ],
     "text": "t b i",
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-channel-x-slider",
     "maxclass": "slider",
     "patching_rect": [
      750,
      715,
      140,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 6.0,
     "min": -3.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-x-t",
     "maxclass": "newobj",
     "patching_rect": [
      750,
      767,
      50,
      22
     ],
     "text": "t b f",
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-channel-y-slider",
     "maxclass": "slider",
     "patching_rect": [
      750,
      741,
      140,
      20
     ],
     "parameter_enable": 0,
     "floatoutput": 1,
     "size": 6.0,
     "min": -3.0,
     "orientation": 1,
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-channel-y-t",
     "maxclass": "newobj",
     "patching_rect": [
      810,
      767,
      50,
      22
     ],
     "text": "t b f",
     "numinlets": 1,
     "numoutlets": 2
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-3",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-4",
      0
     ],
     "destination": [
      "obj-5",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-5",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-6",
      0
     ],
     "destination": [
      "obj-7",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-7",
      0
     ],
     "destination": [
      "obj-8",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-8",
      0
     ],
     "destination": [
      "obj-9",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      0
     ],
     "destination": [
      "obj-10",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      1
     ],
     "destination": [
      "obj-11",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      2
     ],
     "destination": [
      "obj-12",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      3
     ],
     "destination": [
      "obj-13",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      4
     ],
     "destination": [
      "obj-14",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-7",
      1
     ],
     "destination": [
      "obj-15",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-7",
      2
     ],
     "destination": [
      "obj-16",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-17",
      0
     ],
     "destination": [
      "obj-18",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-18",
      0
     ],
     "destination": [
      "obj-19",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-19",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-22",
      0
     ],
     "destination": [
      "obj-23",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-22",
      1
     ],
     "destination": [
      "obj-24",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-23",
      0
     ],
     "destination": [
      "obj-25",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-24",
      0
     ],
     "destination": [
      "obj-26",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-26",
      1
     ],
     "destination": [
      "obj-25",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-26",
      0
     ],
     "destination": [
      "obj-25",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-25",
      0
     ],
     "destination": [
      "obj-27",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-27",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-28",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-30",
      0
     ],
     "destination": [
      "obj-31",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-31",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-32",
      0
     ],
     "destination": [
      "obj-33",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-34",
      0
     ],
     "destination": [
      "obj-35",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-35",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-36",
      0
     ],
     "destination": [
      "obj-37",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-37",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-39",
      0
     ],
     "destination": [
      "obj-40",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-40",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-42",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-43",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-44",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-45",
      0
     ],
     "destination": [
      "obj-46",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-46",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-47",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-48",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-49",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-50",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-51",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-52",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-53",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-54",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-56",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-57",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-58",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-59",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-60",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-62",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-63",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-65",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-66",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-67",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-68",
      0
     ],
     "destination": [
      "obj-69",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-69",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-70",
      0
     ],
     "destination": [
      "obj-71",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-71",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-72",
      0
     ],
     "destination": [
      "obj-73",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pitch-slider",
      0
     ],
     "destination": [
      "obj-pitch-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pitch-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-texture-slider",
      0
     ],
     "destination": [
      "obj-texture-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-texture-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pitches-number",
      0
     ],
     "destination": [
      "obj-pitches-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pitches-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-chord-none",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-chord-major",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-chord-minor",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-chord-fifth",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-chord-octave",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-spread-slider",
      0
     ],
     "destination": [
      "obj-field-spread-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-spread-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-rotate-slider",
      0
     ],
     "destination": [
      "obj-field-rotate-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-rotate-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-spin-slider",
      0
     ],
     "destination": [
      "obj-field-spin-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-spin-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-wander-slider",
      0
     ],
     "destination": [
      "obj-field-wander-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-wander-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-decorrelate-slider",
      0
     ],
     "destination": [
      "obj-field-decorrelate-message",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-field-decorrelate-message",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-loadmess",
      0
     ],
     "destination": [
      "obj-channel-number",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-number",
      0
     ],
     "destination": [
      "obj-channel-gain-i",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-gain-i",
      0
     ],
     "destination": [
      "obj-channel-gain-sprintf",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-gain-sprintf",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-number",
      0
     ],
     "destination": [
      "obj-channel-mute-i",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-mute-i",
      0
     ],
     "destination": [
      "obj-channel-mute-sprintf",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-mute-sprintf",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-number",
      0
     ],
     "destination": [
      "obj-channel-xy-i",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-xy-i",
      0
     ],
     "destination": [
      "obj-channel-xy-sprintf",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-xy-sprintf",
      0
     ],
     "destination": [
      "obj-2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-gain-slider",
      0
     ],
     "destination": [
      "obj-channel-gain-t",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-gain-t",
      1
     ],
     "destination": [
      "obj-channel-gain-sprintf",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-gain-t",
      0
     ],
     "destination": [
      "obj-channel-gain-i",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-mute-toggle",
      0
     ],
     "destination": [
      "obj-channel-mute-t",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-mute-t",
      1
     ],
     "destination": [
      "obj-channel-mute-sprintf",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-mute-t",
      0
     ],
     "destination": [
      "obj-channel-mute-i",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-x-slider",
      0
     ],
     "destination": [
      "obj-channel-x-t",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-x-t",
      1
     ],
     "destination": [
      "obj-channel-xy-sprintf",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-x-t",
      0
     ],
     "destination": [
      "obj-channel-xy-i",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-y-slider",
      0
     ],
     "destination": [
      "obj-channel-y-t",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-y-t",
      1
     ],
     "destination": [
      "obj-channel-xy-sprintf",
      2
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-channel-y-t",
      0
     ],
     "destination": [
      "obj-channel-xy-i",
      0
     ]
    }
   }
  ]
 }
}

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
   980.0,
   820.0
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
      900,
      36
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "caminos-nn: a caminos model inside Max through nn~ (acids-ircam nn_tilde). Export it first: caminos export nn models/checkpoints/default.pt -o default.ts, and put default.ts in Max's search path. Details: docs/export.md in the caminos repository."
    }
   },
   {
    "box": {
     "id": "obj-2",
     "maxclass": "comment",
     "patching_rect": [
      20,
      50,
      900,
      36
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "nn~'s third argument is its buffer in samples: 2048 is safe on one core (256 to 4096, a multiple of the model's hop). Latency: 1024 samples in the model plus nn~'s buffering. Set Max's audio to 48 kHz, the models' rate."
    }
   },
   {
    "box": {
     "id": "obj-3",
     "maxclass": "comment",
     "patching_rect": [
      20,
      100,
      400,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "1. forward: audio in, the model, audio out"
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "ezadc~",
     "patching_rect": [
      20,
      130,
      45,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-5",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      330,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "nn~ default.ts forward 2048"
    }
   },
   {
    "box": {
     "id": "obj-6",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      370,
      60,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "*~ 0.5"
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "ezdac~",
     "patching_rect": [
      20,
      410,
      45,
      22
     ],
     "numinlets": 2,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "comment",
     "patching_rect": [
      120,
      128,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "x (std)"
    }
   },
   {
    "box": {
     "id": "obj-9",
     "maxclass": "slider",
     "patching_rect": [
      120,
      150,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "floatoutput": 1,
     "min": -3.0,
     "size": 6.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-10",
     "maxclass": "newobj",
     "patching_rect": [
      120,
      176,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set x"
    }
   },
   {
    "box": {
     "id": "obj-11",
     "maxclass": "comment",
     "patching_rect": [
      280,
      128,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "y (std)"
    }
   },
   {
    "box": {
     "id": "obj-12",
     "maxclass": "slider",
     "patching_rect": [
      280,
      150,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "floatoutput": 1,
     "min": -3.0,
     "size": 6.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-13",
     "maxclass": "newobj",
     "patching_rect": [
      280,
      176,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set y"
    }
   },
   {
    "box": {
     "id": "obj-14",
     "maxclass": "comment",
     "patching_rect": [
      120,
      198,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "follow"
    }
   },
   {
    "box": {
     "id": "obj-15",
     "maxclass": "slider",
     "patching_rect": [
      120,
      220,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "floatoutput": 1,
     "min": 0.0,
     "size": 1.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-16",
     "maxclass": "newobj",
     "patching_rect": [
      120,
      246,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set follow"
    }
   },
   {
    "box": {
     "id": "obj-17",
     "maxclass": "comment",
     "patching_rect": [
      280,
      198,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "noise (std)"
    }
   },
   {
    "box": {
     "id": "obj-18",
     "maxclass": "slider",
     "patching_rect": [
      280,
      220,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "floatoutput": 1,
     "min": 0.0,
     "size": 2.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-19",
     "maxclass": "newobj",
     "patching_rect": [
      280,
      246,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set noise"
    }
   },
   {
    "box": {
     "id": "obj-20",
     "maxclass": "comment",
     "patching_rect": [
      440,
      128,
      120,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "pitch (semitones)"
    }
   },
   {
    "box": {
     "id": "obj-21",
     "maxclass": "flonum",
     "patching_rect": [
      440,
      150,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": -48.0,
     "maximum": 48.0
    }
   },
   {
    "box": {
     "id": "obj-22",
     "maxclass": "newobj",
     "patching_rect": [
      440,
      176,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set pitch"
    }
   },
   {
    "box": {
     "id": "obj-23",
     "maxclass": "message",
     "patching_rect": [
      440,
      220,
      120,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set phase pghi"
    }
   },
   {
    "box": {
     "id": "obj-24",
     "maxclass": "message",
     "patching_rect": [
      440,
      246,
      120,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set phase input"
    }
   },
   {
    "box": {
     "id": "obj-25",
     "maxclass": "message",
     "patching_rect": [
      440,
      272,
      120,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set phase random"
    }
   },
   {
    "box": {
     "id": "obj-26",
     "maxclass": "message",
     "patching_rect": [
      120,
      290,
      120,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set offset 2 1.5"
    }
   },
   {
    "box": {
     "id": "obj-27",
     "maxclass": "comment",
     "patching_rect": [
      280,
      268,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "texture"
    }
   },
   {
    "box": {
     "id": "obj-28",
     "maxclass": "slider",
     "patching_rect": [
      280,
      290,
      140,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "floatoutput": 1,
     "min": 0.0,
     "size": 1.0,
     "orientation": 1
    }
   },
   {
    "box": {
     "id": "obj-29",
     "maxclass": "newobj",
     "patching_rect": [
      280,
      316,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set texture"
    }
   },
   {
    "box": {
     "id": "obj-30",
     "maxclass": "comment",
     "patching_rect": [
      600,
      130,
      330,
      96
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "x, y: offsets of the map's two axes in standard deviations; pitch in semitones; follow 0: the latent is the offsets alone; offset AXIS STD: any axis; phase: pghi (default), input (the input's own phase), random; texture: how much of the input's grain (0 to 1)."
    }
   },
   {
    "box": {
     "id": "obj-31",
     "maxclass": "comment",
     "patching_rect": [
      20,
      460,
      900,
      36
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "2. encode and decode: the 32 latent axes as signals, one value per hop (256 samples), in standard deviations. Axes 0 and 1 pass through an offset here; the others go straight across."
    }
   },
   {
    "box": {
     "id": "obj-32",
     "maxclass": "ezadc~",
     "patching_rect": [
      20,
      500,
      45,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-33",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      540,
      400,
      22
     ],
     "numinlets": 1,
     "numoutlets": 32,
     "text": "nn~ default.ts encode 2048"
    }
   },
   {
    "box": {
     "id": "obj-34",
     "maxclass": "flonum",
     "patching_rect": [
      20,
      580,
      50,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-35",
     "maxclass": "flonum",
     "patching_rect": [
      90,
      580,
      50,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-36",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      610,
      50,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "+~ 0."
    }
   },
   {
    "box": {
     "id": "obj-37",
     "maxclass": "newobj",
     "patching_rect": [
      90,
      610,
      50,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "+~ 0."
    }
   },
   {
    "box": {
     "id": "obj-38",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      660,
      400,
      22
     ],
     "numinlets": 32,
     "numoutlets": 1,
     "text": "nn~ default.ts decode 2048"
    }
   },
   {
    "box": {
     "id": "obj-39",
     "maxclass": "newobj",
     "patching_rect": [
      20,
      700,
      60,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "*~ 0.5"
    }
   },
   {
    "box": {
     "id": "obj-40",
     "maxclass": "ezdac~",
     "patching_rect": [
      20,
      740,
      45,
      22
     ],
     "numinlets": 2,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-41",
     "maxclass": "newobj",
     "patching_rect": [
      460,
      580,
      90,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "snapshot~ 100"
    }
   },
   {
    "box": {
     "id": "obj-42",
     "maxclass": "newobj",
     "patching_rect": [
      560,
      580,
      90,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "snapshot~ 100"
    }
   },
   {
    "box": {
     "id": "obj-43",
     "maxclass": "flonum",
     "patching_rect": [
      460,
      610,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-44",
     "maxclass": "flonum",
     "patching_rect": [
      560,
      610,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-45",
     "maxclass": "comment",
     "patching_rect": [
      660,
      580,
      280,
      50
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "the first two axes of the live input (0: the training mean, 1: one standard deviation)"
    }
   },
   {
    "box": {
     "id": "obj-46",
     "maxclass": "flonum",
     "patching_rect": [
      460,
      660,
      60,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-47",
     "maxclass": "newobj",
     "patching_rect": [
      460,
      686,
      110,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set pitch"
    }
   },
   {
    "box": {
     "id": "obj-48",
     "maxclass": "comment",
     "patching_rect": [
      580,
      660,
      300,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "decode has the attributes too (set pitch, set noise ...)"
    }
   },
   {
    "box": {
     "id": "obj-49",
     "maxclass": "comment",
     "patching_rect": [
      600,
      240,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "pitches (1 to 3)"
    }
   },
   {
    "box": {
     "id": "obj-50",
     "maxclass": "number",
     "patching_rect": [
      600,
      262,
      50,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 1,
     "maximum": 3
    }
   },
   {
    "box": {
     "id": "obj-51",
     "maxclass": "newobj",
     "patching_rect": [
      600,
      288,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1,
     "text": "prepend set pitches"
    }
   },
   {
    "box": {
     "id": "obj-52",
     "maxclass": "message",
     "patching_rect": [
      760,
      240,
      130,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set chord 4 7 0 0"
    }
   },
   {
    "box": {
     "id": "obj-53",
     "maxclass": "message",
     "patching_rect": [
      760,
      264,
      130,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set chord 3 7 10 0"
    }
   },
   {
    "box": {
     "id": "obj-54",
     "maxclass": "message",
     "patching_rect": [
      760,
      288,
      130,
      22
     ],
     "numinlets": 2,
     "numoutlets": 1,
     "text": "set chord 0 0 0 0"
    }
   },
   {
    "box": {
     "id": "obj-55",
     "maxclass": "comment",
     "patching_rect": [
      600,
      318,
      330,
      80
     ],
     "numinlets": 1,
     "numoutlets": 0,
     "text": "pitches: how many of the model's pitch slots are drawn, the most salient first (fewer thins a chord to its strongest notes). chord: the strongest pitch drawn again, with its timbre, at up to four intervals above it (semitones, -24 to 36); always four numbers, 0 unused: 4 7 0 0 a major triad, 0 0 0 0 no chord."
    }
   }
  ],
  "lines": [
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
      "obj-6",
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
      "obj-6",
      0
     ],
     "destination": [
      "obj-7",
      1
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
      "obj-12",
      0
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
      "obj-15",
      0
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
      "obj-21",
      0
     ],
     "destination": [
      "obj-22",
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
      "obj-29",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-10",
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
      "obj-13",
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
      "obj-16",
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
      "obj-19",
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
      "obj-22",
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
      "obj-23",
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
      "obj-24",
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
      "obj-25",
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
      "obj-26",
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
      "obj-29",
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
      "obj-34",
      0
     ],
     "destination": [
      "obj-36",
      1
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
      "obj-37",
      1
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
      "obj-36",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      1
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
      "obj-36",
      0
     ],
     "destination": [
      "obj-38",
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
      "obj-38",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      2
     ],
     "destination": [
      "obj-38",
      2
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      3
     ],
     "destination": [
      "obj-38",
      3
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      4
     ],
     "destination": [
      "obj-38",
      4
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      5
     ],
     "destination": [
      "obj-38",
      5
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      6
     ],
     "destination": [
      "obj-38",
      6
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      7
     ],
     "destination": [
      "obj-38",
      7
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      8
     ],
     "destination": [
      "obj-38",
      8
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      9
     ],
     "destination": [
      "obj-38",
      9
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      10
     ],
     "destination": [
      "obj-38",
      10
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      11
     ],
     "destination": [
      "obj-38",
      11
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      12
     ],
     "destination": [
      "obj-38",
      12
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      13
     ],
     "destination": [
      "obj-38",
      13
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      14
     ],
     "destination": [
      "obj-38",
      14
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      15
     ],
     "destination": [
      "obj-38",
      15
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      16
     ],
     "destination": [
      "obj-38",
      16
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      17
     ],
     "destination": [
      "obj-38",
      17
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      18
     ],
     "destination": [
      "obj-38",
      18
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      19
     ],
     "destination": [
      "obj-38",
      19
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      20
     ],
     "destination": [
      "obj-38",
      20
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      21
     ],
     "destination": [
      "obj-38",
      21
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      22
     ],
     "destination": [
      "obj-38",
      22
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      23
     ],
     "destination": [
      "obj-38",
      23
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      24
     ],
     "destination": [
      "obj-38",
      24
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      25
     ],
     "destination": [
      "obj-38",
      25
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      26
     ],
     "destination": [
      "obj-38",
      26
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      27
     ],
     "destination": [
      "obj-38",
      27
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-38",
      0
     ],
     "destination": [
      "obj-39",
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
      "obj-39",
      0
     ],
     "destination": [
      "obj-40",
      1
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
      "obj-41",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      1
     ],
     "destination": [
      "obj-42",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-41",
      0
     ],
     "destination": [
      "obj-43",
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
      "obj-44",
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
      "obj-47",
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
      "obj-38",
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
      "obj-51",
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
      "obj-5",
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
      "obj-5",
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
      "obj-5",
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
      "obj-5",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      28
     ],
     "destination": [
      "obj-38",
      28
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      29
     ],
     "destination": [
      "obj-38",
      29
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      30
     ],
     "destination": [
      "obj-38",
      30
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      31
     ],
     "destination": [
      "obj-38",
      31
     ]
    }
   }
  ]
 }
}

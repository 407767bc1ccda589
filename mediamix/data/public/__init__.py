"""Public datasets shipped with the package (load them with :mod:`.datasets`).

``robyn_weekly``: Robyn's simulated weekly demo data (``dt_simulated_weekly``), 208 weeks from
2015-11-23: ``revenue``, spend on five channels (``tv_S``, ``ooh_S``, ``print_S``,
``facebook_S``, ``search_S``), Facebook impressions (``facebook_I``) and search clicks
(``search_clicks_P``), an organic ``newsletter``, ``competitor_sales_B`` and an ``events``
label column (``na``, ``event1``, ``event2``). Copyright Meta Platforms, Inc. and affiliates,
MIT licence (``LICENSE-robyn.txt`` beside the file); from github.com/facebookexperimental/Robyn,
``python/src/robyn/tutorials/resources/dt_simulated_weekly.csv``, commit 5915aa9d5.
"""

"""The cablearchive crawler: the Scrapy project, the command line (`cli/`) and the demo world (`world/`)."""

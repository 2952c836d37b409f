"""The Scrapy project (settings, spiders, pipelines) and the `cablearchive` command line."""

"""Scrapy commands of the project (COMMANDS_MODULE): `scrapy crawl` that refuses what cannot work."""

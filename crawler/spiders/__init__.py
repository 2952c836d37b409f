"""Spiders of the cablearchive Scrapy project."""

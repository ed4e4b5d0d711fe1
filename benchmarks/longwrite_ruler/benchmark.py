"""LongWrite-Ruler (Bai et al., "LongWriter", 2024, arXiv:2408.07055): 48 requests for 1000 to 20000 words or
characters, a stress test of how long a model can write; the length produced against the length asked, and S_l."""

from evalscope.api import LongWriting


class LongWriteRuler(LongWriting):
    data_dir = "longbench_write"
    splits = {"test": "longwrite_ruler.jsonl"}

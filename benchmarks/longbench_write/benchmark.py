"""LongBench-Write (Bai et al., "LongWriter", 2024, arXiv:2408.07055): 120 writing requests, English and Chinese,
each asking for a length; S_l for length, S_q from a judge with the paper's prompt, S their mean."""

from dataclasses import replace

from evalscope.api import LongWriting


class LongBenchWrite(LongWriting):
    data_dir = "longbench_write"
    splits = {"test": "longbench_write.jsonl", "en": "longbench_write_en.jsonl"}
    setups = (*LongWriting.setups,
              replace(LongWriting.setups[0], name="en", description="the 60 English prompts (the paper's en "
                      "subset); scored as the default setup", split="en"))

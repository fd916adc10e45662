"""``python -m image_automation``: the same entry point as the ``image-automation`` script."""

from image_automation.cli import main

if __name__ == "__main__":
    main()

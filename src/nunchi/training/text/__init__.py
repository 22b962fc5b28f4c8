"""Training and evaluating the text models: sentiment (``sentiment``, ``sentiment_cnn``,
``data``), profanity (``profanity``) and the shared metrics (``metrics``)."""

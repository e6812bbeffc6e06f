package dev.wxlogin.spring.webhook;

/** A webhook delivery whose signature does not hold: answer it 400 and do not act on it. */
public class InvalidWebhookSignatureException extends RuntimeException {
    public InvalidWebhookSignatureException(String message) {
        super(message);
    }
}

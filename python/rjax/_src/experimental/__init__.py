"""``jax.experimental``'s pieces rjax has (a library layer): ``io_callback``
(callback.py), ``checkify`` (checkify.py) and ``ode.odeint`` (ode.py)."""

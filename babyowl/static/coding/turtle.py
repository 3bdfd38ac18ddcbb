"""A small `turtle` for Baby Owl (Pyodide has no Tk, so it removes the standard one).

Baby Owl's own code, under the project's licence: it records what the turtle
draws (lines, dots, filled shapes, text); the coding page draws the record as
SVG, and the grader can check the record. Only the commonly taught part of the
standard module's API is here; the rest raises a clear error.
"""
import math

MAX_ITEMS = 50_000  # a drawing loop without end stops growing the record here

_lines = []
_dots = []
_fills = []
_texts = []
_state = {"bg": "white", "turtle": None}


def _colour(args):
    if not args:
        return None
    if len(args) == 1:
        args = args[0]
    if isinstance(args, str):
        return args
    if isinstance(args, (tuple, list)) and len(args) == 3:
        scale = 255 if all(isinstance(v, float) and v <= 1 for v in args) else 1
        red, green, blue = (int(v * scale) for v in args)
        return f"rgb({red}, {green}, {blue})"
    raise ValueError(f"bad colour: {args!r}")


def _record(store, item):
    if len(_lines) + len(_dots) + len(_fills) + len(_texts) < MAX_ITEMS:
        store.append(item)


class Turtle:
    def __init__(self, shape="classic", visible=True):
        self._x = 0.0
        self._y = 0.0
        self._heading = 0.0
        self._down = True
        self._pen = "black"
        self._fill = "black"
        self._width = 1
        self._visible = visible
        self._filling = None

    # -- moving ------------------------------------------------------------
    def _move(self, x, y):
        if self._down:
            _record(_lines, (round(self._x, 2), round(self._y, 2), round(x, 2), round(y, 2), self._pen, self._width))
        if self._filling is not None:
            self._filling.append((round(x, 2), round(y, 2)))
        self._x, self._y = float(x), float(y)

    def forward(self, distance):
        angle = math.radians(self._heading)
        self._move(self._x + distance * math.cos(angle), self._y + distance * math.sin(angle))

    fd = forward

    def backward(self, distance):
        self.forward(-distance)

    bk = back = backward

    def right(self, angle):
        self._heading = (self._heading - angle) % 360

    rt = right

    def left(self, angle):
        self._heading = (self._heading + angle) % 360

    lt = left

    def goto(self, x, y=None):
        if y is None:
            x, y = x
        self._move(float(x), float(y))

    setpos = setposition = goto

    def setx(self, x):
        self.goto(x, self._y)

    def sety(self, y):
        self.goto(self._x, y)

    def home(self):
        self.goto(0, 0)
        self._heading = 0.0

    def setheading(self, angle):
        self._heading = angle % 360

    seth = setheading

    def circle(self, radius, extent=360, steps=None):
        steps = steps or max(12, int(abs(extent) / 6))
        step_angle = extent / steps
        length = 2 * abs(radius) * math.sin(math.radians(abs(step_angle)) / 2)
        turn = step_angle if radius >= 0 else -step_angle
        self.left(turn / 2)
        for _ in range(steps):
            self.forward(length)
            self.left(turn)
        self.left(-turn / 2)

    def dot(self, size=None, *colour):
        _record(_dots, (round(self._x, 2), round(self._y, 2), size or max(self._width + 4, 2 * self._width),
                        _colour(colour) or self._pen))

    def write(self, text, move=False, align="left", font=("Arial", 8, "normal")):
        _record(_texts, (round(self._x, 2), round(self._y, 2), str(text), self._pen, align, font[1]))

    # -- state -------------------------------------------------------------
    def position(self):
        return (round(self._x, 10), round(self._y, 10))

    pos = position

    def xcor(self):
        return round(self._x, 10)

    def ycor(self):
        return round(self._y, 10)

    def heading(self):
        return self._heading

    def distance(self, x, y=None):
        if y is None:
            x, y = x
        return math.hypot(self._x - x, self._y - y)

    def penup(self):
        self._down = False

    pu = up = penup

    def pendown(self):
        self._down = True

    pd = down = pendown

    def isdown(self):
        return self._down

    def pensize(self, width=None):
        if width is None:
            return self._width
        self._width = width

    width = pensize

    def pencolor(self, *args):
        if not args:
            return self._pen
        self._pen = _colour(args)

    def fillcolor(self, *args):
        if not args:
            return self._fill
        self._fill = _colour(args)

    def color(self, *args):
        if not args:
            return self._pen, self._fill
        if len(args) == 2 and not all(isinstance(a, (int, float)) for a in args):
            self._pen, self._fill = _colour((args[0],)), _colour((args[1],))
        else:
            self._pen = self._fill = _colour(args)

    def begin_fill(self):
        self._filling = [(round(self._x, 2), round(self._y, 2))]

    def end_fill(self):
        if self._filling and len(self._filling) > 2:
            _record(_fills, (self._filling, self._fill))
        self._filling = None

    def speed(self, speed=None):
        return 0

    def shape(self, name=None):
        return "classic"

    def hideturtle(self):
        self._visible = False

    ht = hideturtle

    def showturtle(self):
        self._visible = True

    st = showturtle

    def isvisible(self):
        return self._visible


class _Screen:
    def bgcolor(self, *args):
        if not args:
            return _state["bg"]
        _state["bg"] = _colour(args)

    def setup(self, width=None, height=None, startx=None, starty=None):
        pass

    def title(self, text):
        pass

    def tracer(self, n=None, delay=None):
        pass

    def update(self):
        pass

    def exitonclick(self):
        pass

    def mainloop(self):
        pass

    done = mainloop


_screen = _Screen()


def Screen():  # noqa: N802 - the standard module's name
    return _screen


def _default():
    if _state["turtle"] is None:
        _state["turtle"] = Turtle()
    return _state["turtle"]


def _delegate(name):
    def call(*args, **kwargs):
        return getattr(_default(), name)(*args, **kwargs)

    call.__name__ = name
    return call


for _name in ("forward", "fd", "backward", "bk", "back", "right", "rt", "left", "lt", "goto", "setpos",
              "setposition", "setx", "sety", "home", "setheading", "seth", "circle", "dot", "write", "position",
              "pos", "xcor", "ycor", "heading", "distance", "penup", "pu", "up", "pendown", "pd", "down", "isdown",
              "pensize", "width", "pencolor", "fillcolor", "color", "begin_fill", "end_fill", "speed", "shape",
              "hideturtle", "ht", "showturtle", "st", "isvisible"):
    globals()[_name] = _delegate(_name)


def bgcolor(*args):
    return _screen.bgcolor(*args)


def done():
    pass


mainloop = exitonclick = done


def __getattr__(name):
    raise AttributeError(f"turtle.{name} is not available in Baby Owl's turtle")


def _drawing():
    """The record, for the page (SVG) and the grader; None when nothing was drawn."""
    if not (_lines or _dots or _fills or _texts):
        return None
    return {"lines": _lines, "dots": _dots, "fills": _fills, "texts": _texts, "bg": _state["bg"]}

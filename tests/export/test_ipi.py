"""Exported models in i-PI, through its metatomic driver."""

import importlib.util
import os
import subprocess
import time
from pathlib import Path

import ase
import ase.build
import ase.io
import numpy as np
import pytest

from .helpers import assert_relative, calculator, executable, periodic_cell


IPI_INPUT = """<simulation verbosity='low' safe_stride='1000'>
  <output prefix='simulation'>
    <properties stride='1' filename='out'>
      [ step, time{{picosecond}}, conserved{{electronvolt}}, temperature{{kelvin}},
        potential{{electronvolt}} ]
    </properties>
    <trajectory filename='forces' stride='1' format='xyz'>
      forces{{ev/ang}}
    </trajectory>
  </output>
  <total_steps> {steps} </total_steps>
  <prng><seed> 12345 </seed></prng>
  <ffsocket name='tricenter' mode='unix' pbc='false'>
    <address> {address} </address>
    <latency> 1e-3 </latency>
  </ffsocket>
  <system>
    <initialize nbeads='1'>
      <file mode='ase'> init.extxyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces><force forcefield='tricenter'/></forces>
    <ensemble><temperature units='kelvin'> 300 </temperature></ensemble>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> 0.5 </timestep>
        <thermostat mode='svr'><tau units='femtosecond'> 10 </tau></thermostat>
      </dynamics>
    </motion>
  </system>
</simulation>
"""


def test_ipi_nvt(exported, tmp_path):
    """i-PI drives a short NVT run through its metatomic driver, over a UNIX
    socket."""
    if importlib.util.find_spec("ipi") is None:
        pytest.skip("i-PI is not installed (pip install ipi)")
    server, driver = executable("i-pi"), executable("i-pi-py_driver")
    if server is None or driver is None:
        pytest.skip("the i-pi / i-pi-py_driver commands are not on the PATH")

    atoms = periodic_cell(seed=9)
    # i-PI rotates cells to this orientation, and its forces with them
    atoms.set_cell(atoms.cell.standard_form()[0], scale_atoms=True)
    ase.io.write(tmp_path / "init.extxyz", atoms)
    address = f"tricenter-test-{os.getpid()}"
    steps = 10
    (tmp_path / "input.xml").write_text(IPI_INPUT.format(steps=steps, address=address))
    with open(tmp_path / "i-pi.log", "w") as log:
        ipi = subprocess.Popen(
            [server, "input.xml"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            socket = Path(f"/tmp/ipi_{address}")
            for _ in range(600):
                if socket.exists() or ipi.poll() is not None:
                    break
                time.sleep(0.1)
            options = f"template=init.extxyz,model={exported},check_consistency=True"
            client = subprocess.run(
                [driver, "-m", "metatomic", "-u", "-a", address, "-o", options],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=600,
            )
            ipi.wait(timeout=120)
        finally:
            if ipi.poll() is None:
                ipi.kill()
    assert ipi.returncode == 0, (tmp_path / "i-pi.log").read_text()[-3000:]
    assert client.returncode == 0, client.stderr[-3000:]

    properties = np.loadtxt(tmp_path / "simulation.out", ndmin=2)
    assert properties.shape[0] == steps + 1
    assert np.all(np.isfinite(properties))

    # the first frame is the initial structure: i-PI agrees with ASE
    atoms.calc = calculator(exported)
    assert abs(properties[0, 4] - atoms.get_potential_energy()) < 1e-6 * max(
        1.0, abs(atoms.get_potential_energy())
    )
    (first, *_) = ase.io.read(tmp_path / "simulation.forces_0.xyz", ":")
    # i-PI writes forces with 6 significant digits
    assert_relative(first.positions, atoms.get_forces(), 1e-5)

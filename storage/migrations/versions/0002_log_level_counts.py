"""log level counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('log_index_positions',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('device', sa.BigInteger(), nullable=False),
    sa.Column('inode', sa.BigInteger(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('fingerprint_length', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('undated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('log_level_minutes',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('minute', sa.BigInteger(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'minute', 'level')
    )



def downgrade() -> None:

    op.drop_table('log_level_minutes')
    op.drop_table('log_index_positions')

